/**
 * Fuzz of dcm-server's SSH listener from raw TCP sockets on loopback: garbage
 * instead of the version line, very long version lines, no newline, a valid
 * version line followed by malformed binary packets (bad and huge
 * packet_length, padding errors, truncated or corrupt KEXINIT, random
 * payloads, a key exchange cut off), bytes dribbled one at a time, and many
 * connections that never log in, below the server's caps and above them.
 * Seeded: the seed is printed, DCM_FUZZ_SEED reproduces it, and a failure
 * names the case.
 *
 * Asserted: the server stays up; every bad connection is closed by the server
 * within the login grace (plus slack), never left open; its log says what
 * happened in printable single lines; its memory (RSS) does not grow beyond a
 * bound; and another user's `show` keeps answering throughout, on an open
 * ssh2 connection and (while the caps leave room) on fresh OpenSSH logins,
 * each within a bound.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import type ssh2 from 'ssh2';
import { TestEnv, type TestUser } from '../helpers/env.js';
import { Rng, UNSAFE_ON_TERMINAL, caseLabel, fuzzBudgetMs, fuzzCount, fuzzSeed, seedLine } from '../helpers/fuzz.js';
import { clientCfg, sleep, ssh, ssh2Connect, ssh2Exec, startServer, type ServerProc } from '../helpers/ssh.js';

const PORT = tp(33850);
const SEED = fuzzSeed();
/** The server closes a connection that has not logged in after this many seconds. */
const LOGIN_GRACE_S = 3;
const MAX_STARTUPS = 30;
const MAX_STARTUPS_PER_ADDRESS = 8;
/** How long past the login grace a bad connection may stay open (timer granularity, a loaded machine). */
const CLOSE_SLACK_MS = 4000;
/** Bound on one `show` of the other user while the fuzz runs (idle: ~50 ms on an open connection). */
const SHOW_MAX_MS = 3000;
/** Bound on a fresh OpenSSH login running `show` (idle: ~0.3 s). */
const FRESH_MAX_MS = 8000;
/** How much the server's resident memory may grow over the whole fuzz. */
const RSS_GROWTH_MAX_KB = 64 * 1024;
/** Cases run at once (each from its own loopback address, so the per-address cap is not what closes them). */
const PARALLEL = 6;

/** Where the fuzz connects from: 127.0.1.x, none of them the other user's address. */
const fuzzAddress = (i: number) => `127.0.1.${1 + (i % 200)}`;
const BOB_FRESH_FROM = '127.0.0.2';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const sshString = (s: string | Buffer) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);

/** A binary packet as RFC 4253 frames it before keys are agreed: length, padding length, payload, padding (to a multiple of 8). */
function packet(payload: Buffer, padding = -1): Buffer {
  let pad = padding;
  if (pad < 0) {
    pad = 8 - ((5 + payload.length) % 8);
    if (pad < 4) pad += 8;
  }
  return Buffer.concat([u32(1 + payload.length + pad), Buffer.from([pad & 0xff]), payload, Buffer.alloc(pad)]);
}

/** A KEXINIT payload; `lists` are the ten name-lists in order. */
function kexinit(r: Rng, lists?: string[]): Buffer {
  const names = lists ?? [
    'curve25519-sha256',
    'ssh-ed25519',
    'chacha20-poly1305@openssh.com',
    'chacha20-poly1305@openssh.com',
    'hmac-sha2-256-etm@openssh.com',
    'hmac-sha2-256-etm@openssh.com',
    'none',
    'none',
    '',
    '',
  ];
  return Buffer.concat([Buffer.from([20]), r.bytes(16), ...names.map((n) => sshString(n)), Buffer.from([0]), u32(0)]);
}

/** What one fuzz connection sends: pieces with a pause before each, and whether it then stays silent (the server must close it). */
interface Plan {
  shape: string;
  pieces: Buffer[];
  gapMs: number;
}

const VERSION = Buffer.from('SSH-2.0-fuzz_1.0\r\n');

/** One generated hostile connection. */
function plan(r: Rng): Plan {
  const shape = r.int(0, 15);
  const p = (pieces: Buffer[], name: string, gapMs = 0): Plan => ({ shape: name, pieces, gapMs });
  switch (shape) {
    case 0:
      return p([r.bytes(r.int(1, 4096))], 'garbage instead of the version line');
    case 1:
      return p([Buffer.from(`SSH-2.0-${'x'.repeat(r.int(250, 70_000))}${r.chance(0.5) ? '\r\n' : ''}`)], 'very long version line');
    case 2:
      return p([Buffer.from(r.pick(['SSH-2.0-fuzz', 'SSH-1.5-old', 'SSH-', 'GET / HTTP/1.1', '']))], 'no newline');
    case 3:
      return p([Buffer.from(`${'not the version\r\n'.repeat(r.int(1, 2000))}`)], 'lines before the version line');
    case 4:
      return p(
        [Buffer.from(r.pick(['SSH-1.99-x\r\n', 'SSH-3.0-x\r\n', 'SSH-2.0-\x00\x1b]0;owned\x07\r\n', 'SSH-2.0-x\r\x00\n', '\r\n\r\n\r\n']))],
        'odd version',
      );
    case 5:
      return p([VERSION, u32(r.pick([0, 1, 2, 3, 4]))], 'packet_length below the minimum');
    case 6:
      return p([VERSION, u32(r.pick([0xffffffff, 0x80000000, 35_001, 1 << 20])), r.bytes(r.int(0, 512))], 'huge packet_length');
    case 7: {
      const payload = kexinit(r);
      const bad = packet(payload);
      bad[4] = r.pick([0, 1, 3, 255, bad.readUInt32BE(0) & 0xff]); // padding too short, longer than the packet
      return p([VERSION, bad], 'padding length wrong');
    }
    case 8: {
      const whole = packet(kexinit(r));
      return p([VERSION, whole.subarray(0, r.int(1, whole.length - 1))], 'truncated KEXINIT, then silence');
    }
    case 9: {
      // A KEXINIT whose name-list lengths lie.
      const k = kexinit(r);
      const at = 17;
      k.writeUInt32BE(r.pick([0xffffffff, 0x7fffffff, k.length, 1 << 16]), at);
      return p([VERSION, packet(k)], 'KEXINIT with a lying name-list length');
    }
    case 10: {
      const lists = Array.from({ length: 10 }, () =>
        r.chance(0.5) ? 'x'.repeat(r.int(0, 3000)) : r.bytes(r.int(0, 40)).toString('latin1'),
      );
      return p([VERSION, packet(kexinit(r, lists))], 'KEXINIT with no algorithm in common');
    }
    case 11: {
      const msgs = Array.from({ length: r.int(1, 20) }, () =>
        packet(Buffer.concat([Buffer.from([r.int(0, 255)]), r.bytes(r.int(0, 300))])),
      );
      return p([VERSION, ...msgs], 'random messages framed as packets');
    }
    case 12: {
      // A key exchange started right, then an ECDH_INIT with a key of the wrong size, or random bytes.
      const init = packet(Buffer.concat([Buffer.from([30]), sshString(r.bytes(r.pick([0, 1, 31, 33, 64, 4000])))]));
      return p([VERSION, packet(kexinit(r)), r.chance(0.7) ? init : r.bytes(r.int(1, 2000))], 'key exchange cut off or corrupt');
    }
    case 13:
      // Dribbled: one byte at a time, slower than the grace allows the whole to arrive.
      return p(
        [...Buffer.from('SSH-2.0-slowloris\r\n')].map((b) => Buffer.from([b])),
        'version line dribbled',
        300,
      );
    case 14:
      return p([VERSION, ...[...packet(kexinit(r))].slice(0, 40).map((b) => Buffer.from([b]))], 'KEXINIT dribbled', 200);
    default:
      return p([VERSION, r.bytes(r.int(1, 40_000))], 'version line, then random bytes');
  }
}

interface Outcome {
  /** Milliseconds from connect until the server closed the connection, or null if the test had to. */
  closedAfter: number | null;
  /** The server's first line (its version), when it sent one. */
  banner: string;
}

/** Runs one plan from `from`; waits at most `boundMs` for the server to close the connection. */
function runPlan(pl: Plan, from: string, boundMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock: Socket = connect({ port: PORT, host: '127.0.0.1', localAddress: from });
    let got = Buffer.alloc(0);
    let closed = false;
    sock.on('data', (d: Buffer) => {
      if (got.length < 256) got = Buffer.concat([got, d]);
    });
    sock.on('error', () => undefined); // a reset by the server is an answer too
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ closedAfter: null, banner: got.toString('latin1').split('\r\n')[0]! });
    }, boundMs);
    sock.once('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ closedAfter: Date.now() - t0, banner: got.toString('latin1').split('\r\n')[0]! });
    });
    sock.once('connect', async () => {
      for (const piece of pl.pieces) {
        if (closed) return;
        if (pl.gapMs) await sleep(pl.gapMs);
        if (!closed) sock.write(piece);
      }
    });
  });
}

/** A TCP connection from `from` that says nothing; resolves once connected. */
function silent(from: string): Promise<{ sock: Socket; banner: Promise<boolean>; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const sock = connect({ port: PORT, host: '127.0.0.1', localAddress: from });
    const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now() - t0)));
    const banner = new Promise<boolean>((r) => {
      sock.once('data', () => r(true));
      sock.once('close', () => r(false));
    });
    sock.on('error', () => undefined);
    sock.once('connect', () => resolve({ sock, banner, closed }));
    setTimeout(() => reject(new Error(`no connection from ${from} within 5 s`)), 5000).unref();
  });
}

/** The server process's resident memory, in KiB. */
function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
}

/**
 * Bob's `show`, every `everyMs` on one open ssh2 connection, and (while
 * `fresh` says so) over a fresh OpenSSH login every few rounds; every answer
 * must be exit 0.
 */
function othersServed(c: ssh2.Client, bob: TestUser, everyMs: number) {
  const open: number[] = [];
  const fresh: number[] = [];
  const failures: string[] = [];
  let running = true;
  let freshAllowed = true;
  let inFresh: ReturnType<typeof ssh> | null = null;
  const loop = (async () => {
    for (let round = 0; running; round++) {
      let t0 = Date.now();
      const r = await ssh2Exec(c, 'show').catch((e: Error) => ({ code: -1, stdout: '', stderr: e.message }));
      open.push(Date.now() - t0);
      if (r.code !== 0) failures.push(`open connection: exit ${r.code}: ${r.stderr}`);
      if (freshAllowed && round % 5 === 0) {
        t0 = Date.now();
        inFresh = ssh(bob.keyFile, PORT, 'bob', ['show'], ['-b', BOB_FRESH_FROM]);
        const f = await inFresh;
        inFresh = null;
        // Measured only if the caps still left room when it ended (above the total cap, a refusal is the design).
        if (freshAllowed) {
          fresh.push(Date.now() - t0);
          if (f.code !== 0) failures.push(`fresh login: exit ${f.code}: ${f.stderr}`);
        }
      }
      await sleep(everyMs);
    }
  })();
  return {
    open,
    fresh,
    failures,
    /** Fresh logins are not tried while the fuzz holds the server's total cap on purpose; resolves once none is under way. */
    async allowFresh(yes: boolean) {
      freshAllowed = yes;
      await inFresh;
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

describe('fuzz: raw sockets against the SSH listener of dcm-server', () => {
  const env = new TestEnv({
    tag: 'fuzzsock',
    sshPorts: '33860-33869',
    extraYaml: [
      'server:',
      `  login_grace: ${LOGIN_GRACE_S}`,
      `  max_startups: ${MAX_STARTUPS}`,
      `  max_startups_per_address: ${MAX_STARTUPS_PER_ADDRESS}`,
      '  max_sessions_per_user: 10',
      '',
    ].join('\n'),
  });
  let server: ServerProc;
  let bob: TestUser;
  let bobConn: ssh2.Client;

  before(async () => {
    bob = await env.addUser('bob');
    server = await startServer(env, PORT);
    bobConn = await ssh2Connect(clientCfg(PORT, 'bob', bob.keyFile));
  });
  after(async () => {
    bobConn?.end();
    await server?.stop();
    await env.cleanup();
  });

  test('malformed SSH from raw sockets: every connection closed by the server within the grace, server up, others served', async () => {
    console.log(seedLine('ssh-socket', SEED));
    const r = new Rng(SEED, 'ssh-socket');
    const n = fuzzCount(120);
    const budget = fuzzBudgetMs(35_000);
    const pid = server.proc.pid!;
    const rssBefore = rssKb(pid);
    const others = othersServed(bobConn, bob, 100);
    const t0 = Date.now();
    const bound = LOGIN_GRACE_S * 1000 + CLOSE_SLACK_MS;
    const shapes = new Map<string, number[]>();
    let ran = 0;
    const failures: string[] = [];
    try {
      // PARALLEL workers take the seeded plans in order; plan i always comes from the same address.
      const plans = Array.from({ length: n }, () => plan(r));
      let next = 0;
      const worker = async () => {
        while (next < plans.length && Date.now() - t0 < budget) {
          const i = next++;
          const pl = plans[i]!;
          const out = await runPlan(pl, fuzzAddress(i), bound);
          ran++;
          if (out.closedAfter === null) failures.push(`${caseLabel('ssh-socket', SEED, i, pl.shape)}: still open after ${bound} ms`);
          else shapes.set(pl.shape, [...(shapes.get(pl.shape) ?? []), out.closedAfter]);
          if (out.banner && !out.banner.startsWith('SSH-2.0-'))
            failures.push(`${caseLabel('ssh-socket', SEED, i, pl.shape)}: first line ${JSON.stringify(out.banner)}`);
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, worker));
      assert.equal(server.proc.exitCode, null, `server exited:\n${server.log().slice(-2000)}`);
    } finally {
      await others.stop();
    }
    assert.deepEqual(failures, []);
    assert.deepEqual(others.failures, []);
    const worstOpen = Math.max(...others.open);
    const worstFresh = Math.max(0, ...others.fresh);
    assert.ok(worstOpen < SHOW_MAX_MS, `bob's show on his open connection took ${worstOpen} ms during the fuzz`);
    assert.ok(worstFresh < FRESH_MAX_MS, `bob's show on a fresh login took ${worstFresh} ms during the fuzz`);
    assert.ok(others.fresh.length > 0, 'no fresh login was tried');
    // The log: printable single lines, whatever the clients sent.
    for (const line of server.log().split('\n'))
      assert.ok(!UNSAFE_ON_TERMINAL.test(line), `server log line with a raw control: ${JSON.stringify(line.slice(0, 300))}`);
    const rssAfter = rssKb(pid);
    assert.ok(rssAfter - rssBefore < RSS_GROWTH_MAX_KB, `server RSS grew from ${rssBefore} to ${rssAfter} KiB`);
    const summary = [...shapes].map(([s, t]) => `${s}: ${t.length}, closed after ≤${Math.max(...t)} ms`).join('; ');
    console.log(
      `fuzz ssh-socket: ${ran} of ${n} connections in ${Date.now() - t0} ms; RSS ${rssBefore} → ${rssAfter} KiB; bob's show: ${others.open.length} on his connection (worst ${worstOpen} ms), ${others.fresh.length} fresh logins (worst ${worstFresh} ms)`,
    );
    console.log(`fuzz ssh-socket shapes: ${summary}`);
  });

  test('connections that never log in: within the caps all wait for the grace; above them the extra ones are closed at once; others served', async () => {
    const others = othersServed(bobConn, bob, 100);
    const held: Awaited<ReturnType<typeof silent>>[] = [];
    try {
      // Up to the per-address cap: every connection gets the banner (and is closed at the grace, below).
      const from = '127.0.2.1';
      for (let i = 0; i < MAX_STARTUPS_PER_ADDRESS; i++) held.push(await silent(from));
      for (const h of held) assert.equal(await h.banner, true, 'a connection within the per-address cap got no banner');
      // Above it: the extra ones are closed before any banner.
      for (let i = 0; i < 3; i++) {
        const extra = await silent(from);
        held.push(await silent(`127.0.2.${2 + i}`)); // other addresses still get in
        assert.equal(await extra.banner, false, 'a connection over the per-address cap got a banner');
        assert.ok((await extra.closed) < 2000, 'a connection over the per-address cap was not closed at once');
      }
      // Up to the total cap from many addresses; fresh logins are refused by design from here on.
      await others.allowFresh(false);
      for (let i = held.length; i < MAX_STARTUPS; i++) {
        const h = await silent(`127.0.3.${1 + (i % MAX_STARTUPS_PER_ADDRESS)}`);
        held.push(h);
        assert.equal(await h.banner, true, `connection ${i + 1} of the total cap ${MAX_STARTUPS} got no banner`);
      }
      const over = await silent('127.0.4.1');
      assert.equal(await over.banner, false, 'a connection over the total cap got a banner');
      assert.ok((await over.closed) < 2000, 'a connection over the total cap was not closed at once');
      // Every held connection is closed by the server at the grace.
      const closedAfter = await Promise.all(
        held.map((h) => Promise.race([h.closed, sleep(LOGIN_GRACE_S * 1000 + CLOSE_SLACK_MS).then(() => Number.POSITIVE_INFINITY)])),
      );
      const worst = Math.max(...closedAfter);
      assert.ok(worst <= LOGIN_GRACE_S * 1000 + CLOSE_SLACK_MS, `a silent connection stayed open ${worst} ms`);
      assert.ok(Math.min(...closedAfter) >= LOGIN_GRACE_S * 1000 - 500, 'a silent connection within the caps was closed before the grace');
      // The caps are free again: a fresh login works.
      await others.allowFresh(true);
      const t0 = Date.now();
      const f = await ssh(bob.keyFile, PORT, 'bob', ['show'], ['-b', BOB_FRESH_FROM]);
      assert.equal(f.code, 0, `fresh login after the grace: ${f.stderr}`);
      assert.ok(Date.now() - t0 < FRESH_MAX_MS);
      console.log(
        `fuzz ssh-socket caps: ${held.length} silent connections held, closed after ${Math.min(...closedAfter)}-${worst} ms; bob's show on his connection worst ${Math.max(...others.open)} ms`,
      );
    } finally {
      for (const h of held) h.sock.destroy();
      await others.stop();
    }
    assert.deepEqual(others.failures, []);
    assert.ok(Math.max(...others.open) < SHOW_MAX_MS, `bob's show took ${Math.max(...others.open)} ms while the caps were full`);
    assert.equal(server.proc.exitCode, null);
  });
});
