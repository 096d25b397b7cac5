/**
 * Runs a program in a mount namespace of its own whose /etc and /var/lib are
 * copy-on-write overlays of the host's: the test can remove, replace or lock
 * /etc/dcm/config.yaml (the default path no test may touch on the host) and a
 * door may write /var/lib/dcm, while the host's own files stay as they were.
 * Everything written lands in the helper's temp directory.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

export class PrivateEtc {
  private readonly dir = tempDir('dcm-private-etc-');
  private n = 0;

  /**
   * The argv (for spawn/execFile) that runs `argv` with fresh overlays, after
   * `setup` (shell commands run inside, as root; /etc/dcm and /var/lib/dcm
   * start out absent).
   */
  wrap(setup: string, argv: string[]): [string, string[]] {
    const layer = (name: string) => {
      const d = join(this.dir, `${this.n}-${name}`);
      mkdirSync(join(d, 'upper'), { recursive: true });
      mkdirSync(join(d, 'work'), { recursive: true });
      return `lowerdir=/${name.replace('-', '/')},upperdir=${d}/upper,workdir=${d}/work`;
    };
    this.n++;
    const script = [
      'set -e',
      `mount -t overlay overlay -o ${layer('etc')} /etc`,
      `mount -t overlay overlay -o ${layer('var-lib')} /var/lib`,
      'rm -rf /etc/dcm /var/lib/dcm',
      setup,
      'exec "$@"',
    ].join('\n');
    // unshare makes the new mount namespace private: nothing mounted here reaches the host.
    return ['unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', ...argv]];
  }
}

/** Runs a command inside the mount namespace of a process started through wrap(). */
export function inNamespaceOf(pid: number, argv: string[]): [string, string[]] {
  return ['nsenter', ['-t', String(pid), '-m', '--', ...argv]];
}
