/** Finetuning shift and the screening that predicts it (./shift.ts); stored results for the report (./results.ts). */
export { runShift, spearman, type ShiftJob, type ShiftModelRef, type ShiftOrder, type ShiftResult, type ShiftResults, type ShiftRow, type ShiftScreenRow, type ShiftTrait } from './shift.js';
export { readShiftResults, type StoredShift } from './results.js';
