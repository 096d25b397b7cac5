/**
 * Small tmpfs mounts for tests that need a filesystem with (or without) given
 * mount flags, e.g. `nosuid`. Each is mounted on a directory the test made and
 * unmounted by that path only.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';

/** Mounts a 4 MB tmpfs (mode 1777) on `dir`, with extra options such as "nosuid". */
export function mountTmpfs(dir: string, ...options: string[]): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', ['size=4m', 'mode=1777', ...options].join(','), 'tmpfs', dir]);
}

/** Unmounts what mountTmpfs put on `dir`; quiet when nothing is mounted there. */
export function unmountTmpfs(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    // not mounted (the test failed before mounting it)
  }
}
