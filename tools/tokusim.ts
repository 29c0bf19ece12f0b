#!/usr/bin/env node
/** `tokusim`: the main CLI. Parses arguments and dispatches to tools/commands/*. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { COMMANDS } from './commands/index.js';
import { EXIT } from './cli-support.js';
import { packageVersion } from './package-version.js';

let cli = yargs(hideBin(process.argv))
  .scriptName('tokusim')
  .usage('$0 <command> [options]')
  .strict()
  .demandCommand(1, 'name a command (see --help)')
  .recommendCommands()
  .help()
  .version(packageVersion())
  .fail((msg, err, y) => {
    if (err) throw err;
    process.stderr.write(`tokusim: ${msg}\n`);
    process.stderr.write(`Run 'tokusim --help' for usage.\n`);
    void y;
    process.exit(EXIT.USAGE);
  });
for (const c of COMMANDS) cli = cli.command(c);
await cli.parseAsync();
