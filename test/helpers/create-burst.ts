/**
 * A burst of creates through dcm-server, and the invariants that must hold
 * afterwards; shared by test/e2e/create-burst.test.ts (bounded) and
 * bench/create-burst.ts (200 creates from 20 users). Each user has one ssh2
 * connection and fires all of its creates at once on it; some ask for one
 * GPU (fewer than asked for exist) and some for the same extra host port, so
 * the races for every kind of resource are run.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TestEnv, type TestUser, run } from './env.js';
import { clientCfg, ssh2Connect, ssh2Exec } from './ssh.js';

/**
 * Gives the env a users' subnet range of this run's own (by its port slot), so
 * that the burst's networks do not race other runs' test installations on the
 * shared engine for the same blocks of the default range.
 */
export function useOwnSubnets(env: TestEnv, first: number): void {
  const range = `10.${first + (Math.floor(Number(process.env.DCM_TEST_PORT_OFFSET ?? 0) / 1000) % 50)}.0.0/16`;
  const text = readFileSync(env.configFile, 'utf8');
  writeFileSync(env.configFile, text.replace(/^network:\n/m, `network:\n  user_subnets: "${range}"\n`));
}

/** Fake GPU device nodes (char 1:3, like /dev/null) in a temp dir; remove() deletes them. */
export async function fakeGpuNodes(count: number): Promise<{ dir: string; yaml: string; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'dcm-burst-gpus-'));
  for (let i = 0; i < count; i++) {
    const r = await run('mknod', ['-m', '0666', join(dir, `nvidia${i}`), 'c', '1', '3']);
    if (r.code !== 0) throw new Error(`mknod: ${r.stderr}`);
  }
  const inventory = Array.from({ length: count }, (_, i) => `    - { id: "${i}", devices: [${join(dir, `nvidia${i}`)}] }`).join('\n');
  return { dir, yaml: `gpus:\n  inventory:\n${inventory}\n`, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The installation a burst runs on: two ip aliases, the GPUs `gpusYaml`
 * describes (fakeGpuNodes), small containers of at most one GPU each, and a
 * users' subnet range of this run's own from 10.<subnetsFrom>.0.0 (useOwnSubnets).
 */
export function burstEnv(
  tag: string,
  sshPorts: string,
  gpusYaml: string,
  o: { probeTimeout: number; readyTimeout: number; startupsPerAddress: number; subnetsFrom: number },
): TestEnv {
  const env = new TestEnv({
    tag,
    sshPorts,
    ipAliases: ['127.0.0.1', '127.0.0.2'],
    extraYaml: `${gpusYaml}mount_probe_timeout: ${o.probeTimeout}
engine:
  ready_timeout: ${o.readyTimeout}
server:
  max_startups_per_address: ${o.startupsPerAddress}
defaults:
  limits: { memory: 64m, cpus: 0.25 }
  gpus: { max: 1 }
`,
  });
  useOwnSubnets(env, o.subnetsFrom);
  return env;
}

export interface BurstAnswer {
  user: string;
  words: string;
  code: number;
  stdout: string;
  stderr: string;
}

/** Which create the i-th one is: every gpuEvery-th asks for a GPU, every portEvery-th for one of `ports`. */
export function burstWords(i: number, o: { gpuEvery: number; portEvery: number; ports: number[] }): string {
  if (i % o.gpuEvery === o.gpuEvery - 1) return 'create --gpus 1 --json';
  if (i % o.portEvery === o.portEvery - 1) return `create --port ${o.ports[i % o.ports.length]} --json`;
  return 'create --json';
}

/** All creates at once: `perUser` from each user, each user on its own connection. */
export async function createBurst(
  port: number,
  users: TestUser[],
  perUser: number,
  words: (i: number) => string,
): Promise<{ answers: BurstAnswer[]; wallMs: number }> {
  const conns = await Promise.all(users.map((u) => ssh2Connect(clientCfg(port, u.name, u.keyFile, { readyTimeout: 60_000 }))));
  try {
    const t0 = Date.now();
    const answers = await Promise.all(
      users.flatMap((u, ui) =>
        Array.from({ length: perUser }, async (_, k) => {
          const w = words(ui * perUser + k);
          const r = await ssh2Exec(conns[ui]!, w);
          return { user: u.name, words: w, ...r };
        }),
      ),
    );
    return { answers, wallMs: Date.now() - t0 };
  } finally {
    for (const c of conns) c.end();
  }
}

/** The same number of plain `docker run`s of the same image, all at once (labelled for the env's cleanup). */
export async function rawDockerRuns(
  env: TestEnv,
  image: string,
  count: number,
): Promise<{ wallMs: number; failed: number; firstError: string }> {
  const t0 = Date.now();
  const rs = await Promise.all(
    Array.from({ length: count }, () =>
      run('docker', [
        'run',
        '-d',
        '--label',
        `dcm.instance=${env.instance}`,
        '--memory',
        '64m',
        '--entrypoint',
        'sleep',
        image,
        'infinity',
      ]),
    ),
  );
  const wallMs = Date.now() - t0;
  const ids = rs.map((r) => r.stdout.trim()).filter(Boolean);
  if (ids.length) await run('docker', ['rm', '-f', ...ids], {}, 300_000);
  const bad = rs.filter((r) => r.code !== 0);
  return { wallMs, failed: bad.length, firstError: bad[0]?.stderr.trim().split('\n').pop() ?? '' };
}

interface Inspected {
  Id: string;
  HostConfig: {
    PortBindings: Record<string, { HostIp: string; HostPort: string }[] | null> | null;
    Devices: { PathOnHost: string }[] | null;
  };
}

/**
 * What is wrong after the burst, as lines (empty when all holds): a host
 * ip:port or a GPU node given to two containers, a container without its row
 * or a row without its container, a row left half-made, the engine's port
 * bindings differing from the rows'.
 */
export async function burstProblems(env: TestEnv): Promise<string[]> {
  const problems: string[] = [];
  const db = new Database(join(env.stateDir, 'dcm.db'), { readonly: true });
  const rows = db.prepare('SELECT id, docker_id, state FROM containers').all() as { id: number; docker_id: string | null; state: string }[];
  const ports = db.prepare('SELECT ip, port, container_id FROM port_allocations').all() as {
    ip: string;
    port: number;
    container_id: number;
  }[];
  const gpus = db.prepare('SELECT gpu_id, container_id FROM gpu_reservations').all() as { gpu_id: string; container_id: number }[];
  const installation = (db.prepare('SELECT id FROM installation').get() as { id: string }).id;
  db.close();
  for (const r of rows) if (r.state !== 'created' || !r.docker_id) problems.push(`row ${r.id} is ${r.state}, docker id ${r.docker_id}`);
  const listed = (await run('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=dcm.installation=${installation}`])).stdout
    .split('\n')
    .filter(Boolean);
  const inspected: Inspected[] = listed.length ? JSON.parse((await run('docker', ['inspect', ...listed])).stdout) : [];
  const byDocker = new Map(rows.map((r) => [r.docker_id, r]));
  const engineIds = new Set(inspected.map((c) => c.Id));
  for (const c of inspected) if (!byDocker.has(c.Id)) problems.push(`container ${c.Id.slice(0, 12)} has no row`);
  for (const r of rows) if (r.docker_id && !engineIds.has(r.docker_id)) problems.push(`row ${r.id} has no container`);
  const bound = new Map<string, string>();
  const devices = new Map<string, string>();
  for (const c of inspected) {
    const row = byDocker.get(c.Id);
    const mine: string[] = [];
    for (const b of Object.values(c.HostConfig.PortBindings ?? {}))
      for (const x of b ?? []) {
        const at = `${x.HostIp}:${x.HostPort}`;
        if (bound.has(at)) problems.push(`${at} bound by ${bound.get(at)!.slice(0, 12)} and ${c.Id.slice(0, 12)}`);
        bound.set(at, c.Id);
        mine.push(at);
      }
    for (const d of c.HostConfig.Devices ?? []) {
      if (devices.has(d.PathOnHost))
        problems.push(`${d.PathOnHost} given to ${devices.get(d.PathOnHost)!.slice(0, 12)} and ${c.Id.slice(0, 12)}`);
      devices.set(d.PathOnHost, c.Id);
    }
    if (row) {
      const recorded = ports.filter((p) => p.container_id === row.id).map((p) => `${p.ip}:${p.port}`);
      if (mine.sort().join(' ') !== recorded.sort().join(' '))
        problems.push(`container ${row.id}: engine binds ${mine.join(' ')}, rows say ${recorded.join(' ')}`);
      const gpuRows = gpus.filter((g) => g.container_id === row.id).length;
      if (gpuRows !== (c.HostConfig.Devices ?? []).length)
        problems.push(`container ${row.id}: ${(c.HostConfig.Devices ?? []).length} devices, ${gpuRows} GPU rows`);
    }
  }
  for (const p of ports) if (!rows.some((r) => r.id === p.container_id)) problems.push(`${p.ip}:${p.port} held by no row`);
  return problems;
}
