/** The CLI command table: one import and one entry per command. */
import type { CliCommand } from '../command.js';
import { parityCommand } from './parity.js';
import { traitsValidate } from './traits-validate.js';
import { traitsGenerate } from './traits-generate.js';
import { extractCommand } from './extract.js';
import { evaluateCommand } from './evaluate.js';
import { gridCommand } from './grid.js';
import { controlsCommand } from './controls.js';
import { generateCommand } from './generate.js';
import { demoCommand } from './demo.js';
import { geometryCommand } from './geometry.js';
import { sweepCommand } from './sweep.js';
import { monitorCommand } from './monitor.js';
import { screenCommand } from './screen.js';
import { shiftCommand } from './shift.js';
import { normsCommand } from './norms.js';
import { vectorsExport } from './vectors-export.js';
import { serveCommand } from './serve.js';
import { jobsCommands } from './jobs.js';
import { reportCommand } from './report.js';
import { vectorsImport } from './vectors-import.js';
import { facetsCommand } from './facets.js';
import { discourseCommand } from './discourse.js';
import { cacheCommands } from './cache.js';

export const allCommands: CliCommand[] = [
  parityCommand,
  traitsValidate,
  traitsGenerate,
  extractCommand,
  evaluateCommand,
  gridCommand,
  controlsCommand,
  generateCommand,
  sweepCommand,
  monitorCommand,
  screenCommand,
  shiftCommand,
  normsCommand,
  geometryCommand,
  vectorsExport,
  vectorsImport,
  serveCommand,
  demoCommand,
  reportCommand,
  facetsCommand,
  discourseCommand,
  ...jobsCommands,
  ...cacheCommands,
];
