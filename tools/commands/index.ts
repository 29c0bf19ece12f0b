/**
 * The list of `tokusim` subcommands. Each lives in its own file under tools/commands/ and
 * exports a yargs CommandModule; add one import and one entry per subcommand.
 */
import type { CommandModule } from 'yargs';
import { replayCommandModule } from './replay.js';
import { ftdumpCommandModule } from './ftdump.js';
import { logprintCommandModule } from './logprint.js';
import { synthLogCommandModule } from './synth-log.js';
import { recoverCommandModule } from './recover.js';
import { statusCommandModule } from './status.js';
import { crashtestCommandModule } from './crashtest.js';
import { extractCommandModule } from './extract.js';
import { teachCommandModule } from './teach.js';
import { backupCommandModule, logCommandModule } from './backup.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const COMMANDS: CommandModule<any, any>[] = [replayCommandModule, ftdumpCommandModule, logprintCommandModule, synthLogCommandModule, recoverCommandModule, statusCommandModule, crashtestCommandModule, extractCommandModule, teachCommandModule, backupCommandModule, logCommandModule];
