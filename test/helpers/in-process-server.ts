/**
 * dcm-server in the test's own process, for protocol tests at unit speed: the
 * real DcmSshServer on a loopback port the system picks, a real SQLite store
 * in a temp dir, the fake engine, and ssh2 clients beside it. A callback
 * ledger records what the server's SSH callbacks did (see callback-ledger.ts).
 * Needs no Docker; needs root, because adding a user makes its storage owned
 * by the user's uid.
 */
import assert from 'node:assert/strict';
import ssh2 from 'ssh2';
import { resolveConfig } from '../../src/config.js';
import type { Deps } from '../../src/manager/deps.js';
import type { HostNet } from '../../src/net/host-net.js';
import { assemble } from '../../src/main.js';
import type { CommandCore } from '../../src/shell/core.js';
import { loadOrCreateHostKey } from '../../src/ssh/host-key.js';
import { DcmSshServer } from '../../src/ssh/server.js';
import { Store } from '../../src/store/store.js';
import { CallbackLedger } from './callback-ledger.js';
import { BASE_IMAGE } from './env.js';
import { FakeEngine } from './fake-engine.js';
import { tempDir } from './tmp.js';

export interface InProcessServer {
  port: number;
  engine: FakeEngine;
  store: Store;
  /** The command core the server runs every command through. */
  core: CommandCore;
  ledger: CallbackLedger;
  /** What the server logged, one line per entry. */
  log: string[];
  /** A user's private key (OpenSSH format), made by addUser. */
  keys: Map<string, string>;
  addUser(name: string): void;
  /** An ssh2 client logged in as `user`. */
  connect(user: string, extra?: Partial<ssh2.ConnectConfig>): Promise<ssh2.Client>;
  stop(): Promise<void>;
}

/**
 * The one place this harness wires dcm's parts together, as dcm-server does:
 * configuration, store, engine, command core. Kept in one function so that it
 * follows the product's composition root when that changes.
 */
function wireCore(stateDir: string, raw: Record<string, unknown>): { core: CommandCore; store: Store; engine: FakeEngine } {
  const config = resolveConfig(
    { instance: 'inproc', network: { ssh_ports: '20000-20009', ip_aliases: ['127.0.0.1'] }, ...raw },
    stateDir,
    null,
  );
  const store = Store.open(config.dbFile);
  const engine = new FakeEngine();
  // No real host ports are ever probed or published by the fake engine.
  const net: HostNet = { isPortFree: async () => true, waitForSsh: async () => true };
  const deps: Deps = { store, engine, config, net };
  return { core: assemble(deps).core, store, engine };
}

/** An ed25519 key pair ssh2 can read back (its generator rarely writes one it cannot). */
function userKeyPair(): { private: string; public: string } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error)) return pair;
  }
}

export async function startInProcessServer(raw: Record<string, unknown> = {}): Promise<InProcessServer> {
  const stateDir = tempDir('dcm-inproc-');
  const { core, store, engine } = wireCore(stateDir, raw);
  const baseId = engine.addImage(BASE_IMAGE);
  store.images.insert({ ref: BASE_IMAGE, docker_id: baseId, owner: null, source: null });
  const log: string[] = [];
  const ledger = new CallbackLedger();
  const key = loadOrCreateHostKey(stateDir);
  const server = new DcmSshServer({ core, hostKeyPem: key.pem, host: '127.0.0.1', port: 0, log: (l) => log.push(l) });
  // The ssh2 Server is the listener's own; the ledger watches each connection it hands out.
  (server as unknown as { server: ssh2.Server }).server.on('connection', (conn) => ledger.watchConnection(conn));
  const { port } = await server.listen();
  const keys = new Map<string, string>();
  const clients = new Set<ssh2.Client>();
  return {
    port,
    engine,
    store,
    core,
    ledger,
    log,
    keys,
    addUser(name) {
      const pair = userKeyPair();
      core.users.add({ name, keys: [pair.public], groups: [] });
      keys.set(name, pair.private);
    },
    connect(user, extra = {}) {
      return new Promise((resolve, reject) => {
        const c = new ssh2.Client();
        clients.add(c);
        c.once('ready', () => resolve(c));
        c.on('error', reject);
        c.once('close', () => {
          clients.delete(c);
          reject(new Error('closed before ready'));
        });
        c.connect({ host: '127.0.0.1', port, username: user, privateKey: keys.get(user), readyTimeout: 5000, ...extra });
      });
    },
    async stop() {
      for (const c of clients) c.end();
      await server.stop(2000);
      store.close();
    },
  };
}

/** What an exec on the client side saw: refused (the callback's error) or ran to an exit status. */
export interface ClientExec {
  refused?: string;
  code?: number;
  stdout: string;
  stderr: string;
  /** Client-side events of the channel, in order: "exit 3", "close". */
  events: string[];
}

/** One exec from an ssh2 client; resolves when the channel closes (or the request is refused). */
export function clientExec(c: ssh2.Client, command: string, opts: ssh2.ExecOptions = {}): Promise<ClientExec> {
  return new Promise((resolve) => {
    c.exec(command, opts, (err, ch) => {
      const r: ClientExec = { stdout: '', stderr: '', events: [] };
      if (err) return resolve({ ...r, refused: err.message });
      ch.on('data', (d: Buffer) => (r.stdout += d));
      ch.stderr.on('data', (d: Buffer) => (r.stderr += d));
      ch.on('exit', (code: number) => {
        r.code = code;
        r.events.push(`exit ${code}`);
      });
      ch.on('close', () => {
        r.events.push('close');
        resolve(r);
      });
    });
  });
}

/**
 * Sends one more request on an open session channel, as a misbehaving client
 * could; ssh2's client has no call for it, so this goes one level down. No
 * reply is asked for: once a command runs, ssh2's server sends none anyway.
 */
export function rawChannelRequest(ch: ssh2.ClientChannel, kind: 'exec' | 'pty', command = ''): void {
  const inner = ch as unknown as {
    outgoing: { id: number };
    _client: {
      _protocol: {
        exec(id: number, cmd: string, wantReply: boolean): void;
        pty(id: number, rows: number, cols: number, height: number, width: number, term: string, modes: null, wantReply: boolean): void;
      };
    };
  };
  const p = inner._client._protocol;
  if (kind === 'exec') p.exec(inner.outgoing.id, command, false);
  else p.pty(inner.outgoing.id, 24, 80, 0, 0, 'xterm', null, false);
}

/**
 * Times `show` on an open connection every `everyMs` until stopped (a second
 * user's view of the server while a fuzz runs); every answer must be exit 0.
 */
export function showTimer(c: ssh2.Client, everyMs: number) {
  const times: number[] = [];
  const failures: string[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const t0 = Date.now();
      const r = await clientExec(c, 'show');
      times.push(Date.now() - t0);
      if (r.code !== 0) failures.push(`exit ${r.code}: ${r.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    times,
    failures,
    async stop() {
      running = false;
      await done;
    },
    /** Every show answered with exit 0 and none took `maxMs` or more; returns the worst time. */
    assertServed(maxMs: number): number {
      assert.deepEqual(failures, []);
      const worst = Math.max(...times);
      assert.ok(worst < maxMs, `bob's show took ${worst} ms during the fuzz`);
      return worst;
    },
  };
}
