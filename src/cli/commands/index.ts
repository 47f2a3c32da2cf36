/** The CLI command table: one import and one entry per command. */
import type { CliCommand } from '../command.js';

export const allCommands: CliCommand[] = [
];
