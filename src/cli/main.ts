/**
 * persona-lab — the headless CLI. It parses arguments and dispatches to the command table;
 * every command is a thin caller of src/core and src/engine.
 */
import type { CliCommand, CliContext } from './command.js';
import { UsageError } from './command.js';
import { EXIT, exitKindFor } from './exit-codes.js';

/** The command table: add one import + one entry per command. */
const commands: CliCommand[] = [];

export function registerCommands(list: CliCommand[]): void {
  commands.push(...list);
}

function parse(argv: string[]): { words: string[]; flags: Record<string, string | boolean> } {
  const words: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags[a.slice(2, eq)] = a.slice(eq + 1);
      else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) flags[a.slice(2)] = argv[++i];
      else flags[a.slice(2)] = true;
    } else words.push(a);
  }
  return { words, flags };
}

function help(): string {
  const w = Math.max(...commands.map((c) => c.name.length), 8);
  return ['Usage: persona-lab <command> [options]', '', 'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`), '', 'Run persona-lab <command> --help for its options.'].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const { words, flags } = parse(argv);
  // Longest match first so "traits validate" wins over "traits".
  const cmd = [...commands].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length)
    .find((c) => c.name.split(' ').every((part, i) => words[i] === part));
  if (!cmd) {
    process.stderr.write(help() + '\n');
    return words.length === 0 || flags.help ? 0 : 2;
  }
  if (flags.help) { process.stdout.write(`${cmd.usage}\n`); return 0; }
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  const ctx: CliContext = {
    args: words.slice(cmd.name.split(' ').length), flags, json: flags.json === true,
    stdout: (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n'),
    stderr: (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
    signal: ac.signal,
  };
  try {
    return await cmd.run(ctx);
  } catch (e) {
    // One table from error reasons to exit codes (./exit-codes.ts); a cancelled run is not reported as a failure.
    const kind = exitKindFor(e, ac.signal.aborted);
    if (kind === 'cancelled') process.stderr.write(`persona-lab ${cmd.name}: cancelled\n`);
    else if (e instanceof UsageError) process.stderr.write(`${e.message}\n\n${cmd.usage}\n`);
    else process.stderr.write(`persona-lab ${cmd.name}: ${(e as Error).message}\n`);
    return EXIT[kind];
  }
}
