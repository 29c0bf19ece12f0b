/** Test helper: every record of a log directory, in LSN order, read with the forward cursor. */
import type { LogRecord } from '../../src/format/record-types.js';
import { LogCursor } from '../../src/log/cursor.js';
import type { Storage } from '../../src/storage/storage.js';

export async function readAllRecords(storage: Storage, dir: string): Promise<LogRecord[]> {
  const c = await LogCursor.open(storage, dir);
  const out: LogRecord[] = [];
  for (let e = await c.next(); e !== undefined; e = await c.next()) out.push(e.record);
  await c.close();
  return out;
}
