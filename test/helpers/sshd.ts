/**
 * A real OpenSSH sshd for tests and benchmarks: foreground (-D) on a loopback
 * port, its own config, host key and AuthorizedKeysFile in a temp dir, stopped
 * by PID. Sessions get a clean HOME (SetEnv) so the login account's shell
 * start-up files do not run or cost time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './env.js';

/** A running sshd and its files. */
export interface Sshd {
  port: number;
  dir: string;
  proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

export interface SshdOptions {
  port: number;
  /** Lines of the AuthorizedKeysFile (options, key, comment). */
  authorizedKeys: string[];
  /** Extra sshd_config lines appended at the end (Match blocks go here). */
  extra?: string[];
}

export async function startSshd(o: SshdOptions): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), 'dcm-sshd-'));
  const home = join(dir, 'home');
  mkdirSync(home);
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation dir sshd insists on
  const g = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  if (g.code !== 0) throw new Error(`ssh-keygen: ${g.stderr}`);
  writeFileSync(join(dir, 'authorized_keys'), o.authorizedKeys.join('\n') + '\n', { mode: 0o600 });
  const cfg = join(dir, 'sshd_config');
  writeFileSync(
    cfg,
    [
      `Port ${o.port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'KexAlgorithms curve25519-sha256',
      'PrintMotd no',
      'PrintLastLog no',
      'UseDNS no',
      'LogLevel ERROR',
      `SetEnv HOME=${home}`,
      ...(o.extra ?? []),
      '',
    ].join('\n'),
  );
  const t = await run('/usr/sbin/sshd', ['-t', '-f', cfg]);
  if (t.code !== 0) throw new Error(`sshd -t: ${t.stderr}`);
  const proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  proc.stderr!.on('data', (d) => (out += d));
  // Ready once the port accepts connections (bounded).
  const end = Date.now() + 10_000;
  for (;;) {
    const r = await run('ssh-keyscan', ['-p', String(o.port), '-T', '2', '127.0.0.1'], {}, 5000);
    if (r.stdout.includes('ssh-ed25519')) break;
    if (Date.now() > end || proc.exitCode !== null) throw new Error(`sshd did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    port: o.port,
    dir,
    proc,
    log: () => out,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
