/** The CLI command table: one import and one entry per command. */
import type { CliCommand } from '../command.js';
import { parityCommand } from './parity.js';

export const allCommands: CliCommand[] = [
  parityCommand,
];
