/** CLI entry (bundled to dist/cli.js): registers the command table and runs. */
import { main, registerCommands } from './main.js';
import { allCommands } from './commands/index.js';

registerCommands(allCommands);
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
