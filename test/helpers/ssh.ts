/**
 * Test helpers for the SSH doors: run dcm-server as a child process on a
 * loopback port, drive OpenSSH `ssh` (also with -tt and a scripted keyboard),
 * and ssh2's Client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { ROOT, run, type RunResult, type TestEnv, type TestUser } from './env.js';

/** A door program: the bundled build when it is current, else the compiled module. */
export function doorBin(name: 'dcm-server' | 'dcm-shell'): string {
  const compiled = join(ROOT, `dist/src/doors/${name}.js`);
  const bundled = join(ROOT, `dist/bin/${name}.mjs`);
  return existsSync(bundled) && statSync(bundled).mtimeMs >= statSync(compiled).mtimeMs ? bundled : compiled;
}

/** A dcm-server child process and what it logged. */
export interface ServerProc {
  proc: ChildProcess;
  port: number;
  log(): string;
  /** Waits until the log matches (polling, bounded). */
  waitLog(re: RegExp, ms?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startServer(
  env: TestEnv,
  port: number,
  extraEnv: NodeJS.ProcessEnv = {},
  listen = `127.0.0.1:${port}`,
): Promise<ServerProc> {
  const proc = spawn(process.execPath, [doorBin('dcm-server'), '--listen', listen], {
    env: { ...process.env, ...env.env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const s: ServerProc = {
    proc,
    port,
    log: () => out,
    async waitLog(re, ms = 15_000) {
      const end = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > end) throw new Error(`server log never matched ${re}:\n${out}`);
        if (proc.exitCode !== null) throw new Error(`server exited ${proc.exitCode}:\n${out}`);
        await sleep(50);
      }
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null) proc.kill(signal);
      const t = setTimeout(() => proc.exitCode === null && proc.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
  try {
    await s.waitLog(/listening on/);
  } catch (e) {
    await s.stop('SIGKILL'); // never leave a half-started server holding the port
    throw e;
  }
  return s;
}

/** A suite's fixture, before its tests: the base image, the users `names` (fresh keys), then dcm-server on `port`. */
export async function startSuite(env: TestEnv, port: number, ...names: string[]): Promise<{ server: ServerProc; users: TestUser[] }> {
  await env.registerBase();
  const users: TestUser[] = [];
  for (const n of names) users.push(await env.addUser(n));
  return { server: await startServer(env, port), users };
}

/** After the suite's tests: its server stopped (if it started) and the installation removed. */
export async function endSuite(server: ServerProc | undefined, env: TestEnv): Promise<void> {
  await server?.stop();
  await env.cleanup();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Options that keep OpenSSH from reading the tester's own config, keys or known hosts. */
export function sshOpts(keyFile: string, port: number, extra: string[] = []): string[] {
  return [
    '-F',
    '/dev/null',
    '-i',
    keyFile,
    '-p',
    String(port),
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'ConnectTimeout=10',
    ...extra,
  ];
}

/** `ssh -p PORT USER@127.0.0.1 COMMAND` with OpenSSH. */
export function ssh(keyFile: string, port: number, login: string, command: string[], extra: string[] = []): Promise<RunResult> {
  return run('ssh', [...sshOpts(keyFile, port, extra), `${login}@127.0.0.1`, ...command], {}, 60_000);
}

/**
 * A scripted keyboard for `ssh -tt`: the remote side gets a pty, we type into
 * ssh's stdin and wait for text on its stdout (ANSI codes stripped).
 */
export class Typist {
  private buf = '';
  readonly exit: Promise<number | null>;

  constructor(readonly proc: ChildProcess) {
    proc.stdout!.on('data', (d) => (this.buf += d));
    proc.stderr!.on('data', (d) => (this.buf += d));
    this.exit = new Promise((r) => proc.once('exit', (c) => r(c)));
  }

  static ssh(keyFile: string, port: number, login: string, extra: string[] = []): Typist {
    const proc = spawn('ssh', ['-tt', ...sshOpts(keyFile, port, extra), `${login}@127.0.0.1`], {
      env: { ...process.env, TERM: 'xterm-256color' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new Typist(proc);
  }

  /** Everything seen so far, without colour and cursor codes. */
  text(): string {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips terminal escape sequences, which start with ESC
    return this.buf.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
  }

  raw(): string {
    return this.buf;
  }

  /** Waits for `re` in the text after `from` (an index into text()); returns the index after the match. */
  async expect(re: RegExp, from = 0, ms = 60_000): Promise<number> {
    const end = Date.now() + ms;
    for (;;) {
      const t = this.text().slice(from);
      const m = re.exec(t);
      if (m) return from + m.index + m[0].length;
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}; screen:\n${this.text().slice(-2000)}`);
      if (this.proc.exitCode !== null)
        throw new Error(`ssh exited ${this.proc.exitCode} before ${re}; screen:\n${this.text().slice(-2000)}`);
      await sleep(30);
    }
  }

  type(s: string): void {
    this.proc.stdin!.write(s);
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

export const KEY = { enter: '\r', down: '\x1b[B', up: '\x1b[A', tab: '\t', ctrlC: '\x03', ctrlD: '\x04' };

/** ssh2 client connected (or the error it failed with). */
export function ssh2Connect(cfg: ssh2.ConnectConfig): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c));
    // ssh2 may report a lost connection more than once; only the first counts.
    c.on('error', reject);
    c.once('close', () => reject(new Error('closed before ready')));
    c.connect({ host: '127.0.0.1', readyTimeout: 10_000, ...cfg });
  });
}

export function clientCfg(port: number, user: string, keyFile: string, extra: Partial<ssh2.ConnectConfig> = {}): ssh2.ConnectConfig {
  return { port, username: user, privateKey: readFileSync(keyFile), ...extra };
}

/** One exec over an ssh2 connection. */
export function ssh2Exec(c: ssh2.Client, command: string, opts: ssh2.ExecOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    c.exec(command, opts, (err, ch) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code = -1;
      ch.on('data', (d: Buffer) => (stdout += d));
      ch.stderr.on('data', (d: Buffer) => (stderr += d));
      ch.on('exit', (c: number) => (code = c));
      ch.on('close', () => resolve({ code, stdout, stderr }));
    });
  });
}

/** The server's public host key line as written next to the private key. */
export function hostKeyLine(env: TestEnv): string {
  return readFileSync(join(env.stateDir, 'host_keys', 'ssh_host_ed25519_key.pub'), 'utf8').trim();
}

/** A container's sshd host key (ed25519) as a client sees it on 127.0.0.1:port; empty while nothing answers. */
export async function hostKeyAt(port: number): Promise<string> {
  const r = await run('ssh-keyscan', ['-T', '5', '-t', 'ed25519', '-p', String(port), '127.0.0.1']);
  return r.stdout
    .split('\n')
    .filter((l) => l.includes('ssh-ed25519'))
    .map((l) => l.split(' ').slice(1).join(' '))
    .join('\n');
}

/** Polls `probe` every `everyMs` until it returns true; returns the time it took, or fails after `ms` with what `seen` says. */
export async function until(what: string, probe: () => Promise<boolean>, ms = 30_000, seen = () => '', everyMs = 100): Promise<number> {
  const t0 = Date.now();
  while (!(await probe())) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms${seen() ? `; last seen: ${seen()}` : ''}`);
    await sleep(everyMs);
  }
  return Date.now() - t0;
}
