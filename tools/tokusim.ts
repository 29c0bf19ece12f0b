#!/usr/bin/env node
/** `tokusim`: the main CLI. Parses arguments and dispatches to tools/commands/*. */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { COMMANDS } from './commands/index.js';
import { EXIT, handleStdoutErrors, tokusimVersion } from './cli-support.js';
import { useFastChecksums, useFastPathsByDefault } from '../src/node/fast-defaults.js';
import { useNodeHostByDefault } from '../src/node/host.js';

handleStdoutErrors('tokusim');
// A Node entry, like the library's: default NodeStorages and x1764 get the fast paths, and
// environments opened without a storage use real files and judge lock holders by process.
useFastPathsByDefault();
useFastChecksums();
useNodeHostByDefault();
let cli = yargs(hideBin(process.argv))
  .scriptName('tokusim')
  .usage('$0 <command> [options]')
  .strict()
  .demandCommand(1, 'name a command (see --help)')
  .recommendCommands()
  .help('help', 'show help')
  .alias('h', 'help')
  .version('version', "print tokusim's version", tokusimVersion())
  .alias('V', 'version')
  .example('$0 status ./env', 'show checkpoints, log files and dictionaries of an environment')
  .example('$0 logprint ./env --type xcommit --limit 10', 'print the first ten commit records')
  .example('$0 <command> --help', "show a command's options and examples")
  .epilog('Exit codes: 0 ok, 1 internal error, 2 bad command line, 3 corrupt input, 4 truncated input, 5 I/O error, 6 violation found, 7 locked, 8 lock conflict, 9 not a tokusim environment.')
  .fail((msg, err, y) => {
    if (err) throw err;
    process.stderr.write(`tokusim: ${msg}\n`);
    process.stderr.write(`Run 'tokusim --help' for usage.\n`);
    void y;
    process.exit(EXIT.USAGE);
  });
for (const c of COMMANDS) cli = cli.command(c);
// A command of our own rather than yargs' .completion(), whose command prints the script even
// for `completion --help`; the shells' completion requests (--get-yargs-completions) are
// answered by yargs either way.
const withCompletion: Argv = cli.command({
  command: 'completion',
  describe: 'print a shell completion script (bash or zsh, from $SHELL)',
  builder: (y) =>
    y
      .example('$0 completion >> ~/.bashrc', 'complete tokusim commands and options in bash')
      .example('$0 completion >> ~/.zshrc', 'the same in zsh (run it from zsh)'),
  handler: (): void => {
    withCompletion.showCompletionScript();
  },
});
await cli.parseAsync();
