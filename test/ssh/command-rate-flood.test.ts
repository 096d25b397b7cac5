/**
 * One user cannot starve the others: while mallory floods dcm-server with
 * commands (bounded: 10 s or 400 commands), the per-user command rate refuses
 * the excess with one line and exit code 5, the per-user session limit still
 * holds, and alice's `show` stays within a loose bound of its idle median.
 * The tight figure (p99 within 3x of the idle median) is measured by
 * bench/command-flood.ts; here the bound allows for a busy shared machine.
 */
import { tp } from '../helpers/ports.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type ssh2 from 'ssh2';
import { TestEnv, type TestUser } from '../helpers/env.js';
import { clientCfg, endSuite, sleep, ssh2Connect, ssh2Exec, startServer, type ServerProc } from '../helpers/ssh.js';
import { pct } from '../helpers/stats.js';

const PORT = tp(32800);
const PER_MINUTE = 120;
const BURST = 60;
const SESSIONS = 4;
const RATE_LINE = /^dcm: too many commands: at most 120 a minute; try again in \d+ s\n$/;
const SESSION_LINE = `dcm: too many open sessions for mallory (limit ${SESSIONS}): close one and try again\n`;

/** An interactive shell session, held open until closed. */
function openShell(c: ssh2.Client): Promise<{ ch: ssh2.ClientChannel; stderr: () => string; exit: Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    c.shell({ term: 'xterm', rows: 24, cols: 80 }, (err, ch) => {
      if (err) return reject(err);
      let text = '';
      ch.on('data', (d: Buffer) => (text += d));
      ch.stderr.on('data', (d: Buffer) => (text += d));
      const exit = new Promise<number | null>((r) => {
        let code: number | null = null;
        ch.on('exit', (x: number) => (code = x));
        ch.on('close', () => r(code));
      });
      resolve({ ch, stderr: () => text, exit });
    });
  });
}

describe('per-user command rate under a flood', () => {
  const env = new TestEnv({
    tag: 'rateflood',
    sshPorts: '32900-32919',
    extraYaml: `server:\n  max_sessions_per_user: ${SESSIONS}\n  commands_per_minute: ${PER_MINUTE}\n  command_burst: ${BURST}\n`,
  });
  let server: ServerProc;
  let alice: TestUser;
  let mallory: TestUser;

  before(async () => {
    await env.registerBase();
    alice = await env.addUser('alice');
    mallory = await env.addUser('mallory');
    // alice's show asks the engine: a container makes it do the real work. Her own
    // 45 commands stay within the burst.
    const made = await env.dcm('alice', 'create');
    assert.equal(made.code, 0, made.stderr);
    server = await startServer(env, PORT);
  });
  after(() => endSuite(server, env));

  test('the flood is refused past the rate (exit 5, one line), the session limit holds, alice is served throughout', async () => {
    const a = await ssh2Connect(clientCfg(PORT, 'alice', alice.keyFile));
    const m = await ssh2Connect(clientCfg(PORT, 'mallory', mallory.keyFile));
    const shells: Awaited<ReturnType<typeof openShell>>[] = [];
    try {
      const aliceShow = async (): Promise<number> => {
        const t0 = process.hrtime.bigint();
        const r = await ssh2Exec(a, 'show');
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /running/);
        return Number(process.hrtime.bigint() - t0) / 1e6;
      };
      for (let i = 0; i < 3; i++) await aliceShow();
      const idle: number[] = [];
      for (let i = 0; i < 12; i++) idle.push(await aliceShow());

      // mallory holds all but one of her sessions, and floods through the last one from two loops.
      for (let i = 0; i < SESSIONS - 1; i++) shells.push(await openShell(m));
      const answers = { ok: 0, rate: 0, session: 0 };
      const t0 = Date.now();
      let sent = 0;
      const flood = async () => {
        while (Date.now() - t0 < 10_000 && sent < 400) {
          sent++;
          const r = await ssh2Exec(m, 'show');
          if (r.code === 0 && r.stderr === '') answers.ok++;
          else if (r.code === 5 && RATE_LINE.test(r.stderr)) answers.rate++;
          else if (r.code === 5 && r.stderr === SESSION_LINE) answers.session++;
          else assert.fail(`unexpected answer to mallory's show: ${r.code} ${JSON.stringify(r.stderr)}`);
        }
      };
      const floods = [flood(), flood()];
      await sleep(300);
      const busy: number[] = [];
      while (Date.now() - t0 < 9000 && busy.length < 30) busy.push(await aliceShow());
      await Promise.all(floods);
      const took = (Date.now() - t0) / 1000;

      assert.equal(answers.ok + answers.rate + answers.session, sent);
      assert.ok(answers.rate > 0, `no command refused for the rate (${JSON.stringify(answers)})`);
      const allowed = BURST + Math.ceil((took * PER_MINUTE) / 60) + 1;
      assert.ok(answers.ok <= allowed, `${answers.ok} of mallory's commands ran in ${took.toFixed(1)} s; the rate allows ${allowed}`);

      // With her shells still open, two more sessions at once: one takes the last slot, the other is refused.
      const two = await Promise.all([openShell(m), openShell(m)]);
      await sleep(500);
      const refused = two.filter((s) => s.stderr().includes('too many open sessions'));
      assert.equal(refused.length, 1, two.map((s) => s.stderr()).join(' | '));
      assert.equal(await refused[0]!.exit, 5);
      assert.equal(refused[0]!.stderr(), SESSION_LINE.replace('\n', '\r\n'));
      shells.push(...two.filter((s) => s !== refused[0]));

      const med = pct(idle, 50);
      const p99 = pct(busy, 99);
      // Loose here (a shared 2-core machine): the bench holds the 3x figure.
      assert.ok(
        p99 <= Math.max(3 * med, med + 500),
        `alice's show p99 ${p99.toFixed(0)} ms during the flood, idle median ${med.toFixed(0)} ms`,
      );
      console.log(
        `# mallory: ${sent} commands in ${took.toFixed(1)} s: ${answers.ok} ran, ${answers.rate} over the rate, ${answers.session} over the session limit; alice show idle median ${med.toFixed(1)} ms, flood p99 ${p99.toFixed(1)} ms (${busy.length} samples)`,
      );
    } finally {
      for (const s of shells) s.ch.end();
      a.end();
      m.end();
    }
  });
});
