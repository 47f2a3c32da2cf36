/**
 * persona-lab — the headless CLI. It parses arguments and dispatches to the command table;
 * every command is a thin caller of src/core and src/engine.
 */
import { formatOptions, OptionError } from '../core/jobs/options.js';
import { parseArgs } from './args.js';
import type { CliCommand, CliContext } from './command.js';
import { EXIT, exitKindFor } from './exit-codes.js';

/** The command table: add one import + one entry per command. */
const commands: CliCommand[] = [];

export function registerCommands(list: CliCommand[]): void {
  commands.push(...list);
}

function help(): string {
  const w = Math.max(...commands.map((c) => c.name.length), 8);
  return ['Usage: persona-lab <command> [options]', '', 'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`), '', 'Run persona-lab <command> --help for its options.'].join('\n');
}

/** A command's --help: its synopsis and notes, then every declared option with its default. */
export function commandHelp(cmd: CliCommand): string {
  return `${cmd.usage}\nOptions:\n${formatOptions(cmd.options).join('\n')}`;
}

export async function main(argv: string[]): Promise<number> {
  const lead: string[] = [];
  for (const a of argv) { if (a.startsWith('--')) break; lead.push(a); }
  // Longest match first so "traits validate" wins over "traits".
  const cmd = [...commands].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length)
    .find((c) => c.name.split(' ').every((part, i) => lead[i] === part));
  if (!cmd) {
    process.stderr.write(help() + '\n');
    return lead.length === 0 || argv.includes('--help') ? EXIT.ok : EXIT.usage;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(argv.slice(cmd.name.split(' ').length), cmd.options);
  } catch (e) {
    if (e instanceof OptionError) { process.stderr.write(`${e.message}\n\n${commandHelp(cmd)}\n`); return EXIT.usage; }
    throw e;
  }
  if (parsed.flags.help) { process.stdout.write(`${commandHelp(cmd)}\n`); return EXIT.ok; }
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  const ctx: CliContext = {
    args: parsed.args, flags: parsed.flags, options: cmd.options, json: parsed.flags.json === true,
    stdout: (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n'),
    stderr: (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
    signal: ac.signal,
  };
  try {
    return await cmd.run(ctx);
  } catch (e) {
    // One table from error reasons to exit codes (./exit-codes.ts); a cancelled run is not reported as a failure.
    const kind = exitKindFor(e, ac.signal.aborted, cmd.name);
    if (kind === 'cancelled') process.stderr.write(`persona-lab ${cmd.name}: cancelled\n`);
    else if (e instanceof OptionError) process.stderr.write(`${e.message}\n\n${commandHelp(cmd)}\n`);
    else process.stderr.write(`persona-lab ${cmd.name}: ${(e as Error).message}\n`);
    return EXIT[kind];
  }
}
