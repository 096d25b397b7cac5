/**
 * A throwaway dcm installation for one test file: its own state dir, config,
 * instance name (so Docker objects carry a unique dcm.instance label and
 * cleanup removes only what this file made) and SSH port range.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { INSTANCE_PREFIX, tpRange } from './ports.js';

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
  /**
   * Share this instance name with another TestEnv (two installations on one
   * engine). Cleanup then goes by installation id, never by instance name.
   */
  instance?: string;
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
    this.instance = opts.instance ?? `${INSTANCE_PREFIX}${opts.tag}-${randomBytes(3).toString('hex')}`;
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

  /** This installation's id (made at the database's first open). */
  installationId(): string {
    const db = new Database(join(this.stateDir, 'dcm.db'), { readonly: true });
    try {
      return (db.prepare('SELECT id FROM installation').get() as { id: string }).id;
    } finally {
      db.close();
    }
  }

  /** A container's Docker name: <instance>-<first 8 of the installation id>-<id>. */
  dockerName(id: number): string {
    return `${this.instance}-${this.installationId().slice(0, 8)}-${id}`;
  }

  /**
   * Removes every container, image and network this installation made: those carrying
   * its installation label and those its database references; also, when the
   * instance name is this env's own, everything with that name (objects a test
   * made with the labels of older versions). Never another env's objects.
   */
  async cleanup(): Promise<void> {
    const filters: string[] = [];
    const referenced = { containers: [] as string[], images: [] as string[] };
    const dbFile = join(this.stateDir, 'dcm.db');
    if (existsSync(dbFile)) {
      filters.push(`label=dcm.installation=${this.installationId()}`);
      const db = new Database(dbFile, { readonly: true });
      referenced.containers = (
        db.prepare('SELECT docker_id FROM containers WHERE docker_id IS NOT NULL').all() as { docker_id: string }[]
      ).map((r) => r.docker_id);
      referenced.images = (db.prepare('SELECT docker_id FROM images WHERE owner IS NOT NULL').all() as { docker_id: string }[]).map(
        (r) => r.docker_id,
      );
      db.close();
    }
    if (!this.opts.instance) filters.push(`label=dcm.instance=${this.instance}`);
    const ids = new Set(referenced.containers);
    for (const f of filters)
      for (const id of (await run('docker', ['ps', '-aq', '--no-trunc', '--filter', f])).stdout.split('\n')) if (id) ids.add(id);
    if (ids.size) await run('docker', ['rm', '-f', ...ids]);
    const imgs = new Set(referenced.images);
    for (const f of filters)
      for (const id of (await run('docker', ['images', '-q', '--no-trunc', '--filter', f])).stdout.split('\n')) if (id) imgs.add(id);
    if (imgs.size) await run('docker', ['rmi', '-f', ...imgs]);
    // Users' networks, after the containers attached to them are gone.
    const nets = new Set<string>();
    for (const f of filters)
      for (const id of (await run('docker', ['network', 'ls', '-q', '--no-trunc', '--filter', f])).stdout.split('\n')) if (id) nets.add(id);
    if (nets.size) await run('docker', ['network', 'rm', ...nets]);
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** OpenSSH client into a container's published port on loopback. */
export function sshInto(keyFile: string, login: string, ip: string, port: number, command: string): Promise<RunResult> {
  return run(
    'ssh',
    [
      '-i',
      keyFile,
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      '-o',
      'ConnectTimeout=10',
      '-o',
      'IdentitiesOnly=yes',
      '-p',
      String(port),
      `${login}@${ip}`,
      command,
    ],
    {},
    60_000,
  );
}

/** Docker's own view of a container, for asserting what dcm asked for. */
export async function dockerInspect(nameOrId: string): Promise<any | null> {
  const r = await run('docker', ['inspect', nameOrId]);
  if (r.code !== 0) return null;
  return (JSON.parse(r.stdout) as any[])[0];
}
