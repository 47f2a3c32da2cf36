/**
 * The real inference worker, with a ledger: point PERSONA_LAB_WORKER at this file and PERSONA_LAB_FAULTS_WORKER_LOG
 * at a file, and every worker started appends `{"pid":…,"event":"start"}`, then one line per generate request it
 * receives (`{"pid":…,"event":"generate","rows":N}`), written synchronously as the message arrives (the worker's
 * own handler starts first, but the rows are recorded before any of them can finish). The fault suite counts rows sent to the worker from it (no generation
 * redone that had been recorded) and takes the worker's pid to kill the worker alone.
 */
import { appendFileSync } from 'node:fs';

// The worker first, so its IPC reader is listening before ours: a 'message' listener added earlier would start the
// channel flowing while the worker's modules still load, and the messages sent meanwhile would reach only us.
await import('../../src/engine/worker/main.js');
const ledger = process.env.PERSONA_LAB_FAULTS_WORKER_LOG;
if (ledger) {
  appendFileSync(ledger, JSON.stringify({ pid: process.pid, event: 'start' }) + '\n');
  process.on('message', (m: { method?: string; params?: { rows?: unknown[] } }) => {
    if (m && m.method === 'generate') appendFileSync(ledger, JSON.stringify({ pid: process.pid, event: 'generate', rows: m.params?.rows?.length ?? 0 }) + '\n');
  });
}
