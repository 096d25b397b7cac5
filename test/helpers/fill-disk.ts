/** Fills a (small, test-made) file system to the last byte, to meet a full disk for real. */
import assert from 'node:assert/strict';
import { closeSync, openSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Writes `dir`/fill until ENOSPC; returns the file to remove to free the space. */
export function fillDisk(dir: string): string {
  const file = join(dir, 'fill');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(1 << 20);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  assert.equal(statfsSync(dir).bavail, 0);
  return file;
}
