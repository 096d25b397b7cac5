/**
 * A throwaway dcm installation for one test file: its own state dir, config,
 * instance name (so Docker objects carry a unique dcm.instance label and
 * cleanup removes only what this file made) and SSH port range.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { tpRange } from './ports.js';

/** Repository root (dist/test/helpers → ../../..). Tests run the bundled programs in dist/bin, as shipped. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BASE_IMAGE = 'dcm/debian-base:bookworm';
export const BIN = {
  dcm: join(ROOT, 'dist/bin/dcm.mjs'),
  useradd: join(ROOT, 'dist/bin/dcm-useradd.mjs'),
  userdel: join(ROOT, 'dist/bin/dcm-userdel.mjs'),
  admin: join(ROOT, 'dist/bin/dcm-admin.mjs'),
};

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export interface EnvOptions {
  /** Short tag for this file, part of the instance name. */
  tag: string;
  /** SSH port range, distinct per test file, e.g. "30100-30149" (shifted by the run's port offset). */
  sshPorts: string;
  ipAliases?: string[];
  /** Extra YAML merged at the top level of the config. */
  extraYaml?: string;
}

export interface TestUser {
  name: string;
  keyFile: string;
  pubKey: string;
}

export class TestEnv {
  readonly stateDir: string;
  readonly configFile: string;
  readonly instance: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(readonly opts: EnvOptions) {
    this.stateDir = mkdtempSync(join(tmpdir(), `dcm-${opts.tag}-`));
    this.instance = `t-${opts.tag}-${randomBytes(3).toString('hex')}`;
    this.configFile = join(this.stateDir, 'config.yaml');
    const aliases = opts.ipAliases ?? ['127.0.0.1'];
    writeFileSync(
      this.configFile,
      [
        `instance: ${this.instance}`,
        `network:`,
        `  ssh_ports: "${tpRange(opts.sshPorts)}"`,
        `  ip_aliases: [${aliases.map((a) => `"${a}"`).join(', ')}]`,
        opts.extraYaml ?? '',
      ].join('\n'),
    );
    this.env = { DCM_STATE_DIR: this.stateDir, DCM_CONFIG: this.configFile, SUDO_USER: '' };
  }

  /** The local door as root: dcm --user NAME ... */
  dcm(user: string, ...args: string[]): Promise<RunResult> {
    return run(process.execPath, [BIN.dcm, '--user', user, ...args], this.env);
  }

  /** Like dcm(), but parses --json output and fails loudly on a non-zero exit. */
  async dcmJson<T = any>(user: string, ...args: string[]): Promise<T> {
    const r = await this.dcm(user, ...args, '--json');
    if (r.code !== 0) throw new Error(`dcm ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  tool(name: keyof typeof BIN, ...args: string[]): Promise<RunResult> {
    return run(process.execPath, [BIN[name], ...args], this.env);
  }

  async registerBase(ref = BASE_IMAGE): Promise<void> {
    const r = await this.tool('admin', 'images', 'add', ref);
    if (r.code !== 0) throw new Error(`images add failed: ${r.stderr}`);
  }

  /** Adds a dcm user with a fresh ed25519 key. */
  async addUser(name: string, ...extra: string[]): Promise<TestUser> {
    const keyFile = join(this.stateDir, `key-${name}`);
    const g = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', keyFile]);
    if (g.code !== 0) throw new Error(`ssh-keygen: ${g.stderr}`);
    const r = await this.tool('useradd', name, '--key', `${keyFile}.pub`, ...extra);
    if (r.code !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
    return { name, keyFile, pubKey: readFileSync(`${keyFile}.pub`, 'utf8').trim() };
  }

  /** Removes every container, image and network carrying this instance's label, then the state dir. */
  async cleanup(): Promise<void> {
    const label = `label=dcm.instance=${this.instance}`;
    const cs = await run('docker', ['ps', '-aq', '--filter', label]);
    const ids = cs.stdout.split('\n').filter(Boolean);
    if (ids.length) await run('docker', ['rm', '-f', ...ids]);
    const is = await run('docker', ['images', '-q', '--filter', label]);
    const imgs = [...new Set(is.stdout.split('\n').filter(Boolean))];
    if (imgs.length) await run('docker', ['rmi', '-f', ...imgs]);
    // Users' networks, after the containers attached to them are gone.
    const ns = await run('docker', ['network', 'ls', '-q', '--filter', label]);
    const nets = ns.stdout.split('\n').filter(Boolean);
    if (nets.length) await run('docker', ['network', 'rm', ...nets]);
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** OpenSSH client into a container's published port on loopback. */
export function sshInto(keyFile: string, login: string, ip: string, port: number, command: string): Promise<RunResult> {
  return run('ssh', [
    '-i', keyFile,
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
    '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10', '-o', 'IdentitiesOnly=yes',
    '-p', String(port), `${login}@${ip}`, command,
  ], {}, 60_000);
}

/** Docker's own view of a container, for asserting what dcm asked for. */
export async function dockerInspect(nameOrId: string): Promise<any | null> {
  const r = await run('docker', ['inspect', nameOrId]);
  if (r.code !== 0) return null;
  return (JSON.parse(r.stdout) as any[])[0];
}
