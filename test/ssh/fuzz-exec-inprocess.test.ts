/**
 * Fuzz of exec requests, through dcm-server in this process (real SSH over
 * loopback, real SQLite, the fake engine with every call recorded), while a
 * second user's `show` is timed throughout. Seeded: the seed is printed,
 * DCM_FUZZ_SEED reproduces it, and a failure names the input.
 *
 * Asserted for every input: an exit status within a bound (no hang), a
 * refusal is one printable line on stderr, nothing printed carries a raw
 * control, only typed values reach the engine, no user is made, and the other
 * user's `show` stays fast.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type ssh2 from 'ssh2';
import { Rng, UNSAFE_ON_TERMINAL, caseLabel, commandLine, fuzzCount, fuzzSeed, seedLine } from '../helpers/fuzz.js';
import { assertEngineTyped, recordEngineCalls, type EngineCall } from '../helpers/engine-calls.js';
import { clientExec, showTimer, startInProcessServer, type InProcessServer } from '../helpers/in-process-server.js';
import { sleep } from '../helpers/ssh.js';

const SEED = fuzzSeed();
/** How long a shell may take to answer the line typed after a fuzz input. */
const ANSWER_MS = 5000;
/** Bound on the other user's `show` while the fuzz runs. */
const SHOW_MAX_MS = 2000;

describe('fuzz: exec requests over SSH, in process', () => {
  let h: InProcessServer;
  let calls: EngineCall[];
  let bob: ssh2.Client;
  before(async () => {
    // The fuzz sends far more commands than a person would: the command rate must not be what refuses them.
    h = await startInProcessServer({ server: { commands_per_minute: 1_000_000, command_burst: 1_000_000 } });
    h.addUser('alice');
    h.addUser('bob');
    calls = recordEngineCalls(h.engine);
    bob = await h.connect('bob');
  });
  after(async () => {
    await h?.stop();
  });

  /** Containers a wizard made by chance are removed, so the user's limit never turns later cases into refusals. */
  async function removeAlices(): Promise<void> {
    for (const row of h.store.containers.byOwner('alice')) await h.core.run('alice', ['rm', '-f', String(row.id)]);
  }

  test('exec requests with generated commands: exit status and one printable stderr line when refused, bounded time', async () => {
    console.log(seedLine('exec', SEED));
    const r = new Rng(SEED, 'exec');
    const n = fuzzCount(250);
    const users = h.store.users.list().length;
    const alice = await h.connect('alice');
    const timer = showTimer(bob, 100);
    const t0 = Date.now();
    let refused = 0;
    let slowest = 0;
    try {
      for (let i = 0; i < n; i++) {
        const command = commandLine(r, { maxChars: r.chance(0.1) ? 12_000 : 400 });
        const label = caseLabel('exec', SEED, i, command);
        calls.length = 0;
        const t = Date.now();
        const res = await Promise.race([
          clientExec(alice, command, r.chance(0.2) ? { pty: { term: 'xterm', cols: 80, rows: 24 } } : {}),
          sleep(ANSWER_MS).then(() => null),
        ]);
        assert.ok(res, `${label}: no answer within ${ANSWER_MS} ms`);
        slowest = Math.max(slowest, Date.now() - t);
        assert.equal(res.refused, undefined, label);
        assert.ok(Number.isInteger(res.code), `${label}: no exit status: ${JSON.stringify(res)}`);
        if (res.code !== 0) {
          refused++;
          const line = res.stderr.replace(/\r\n/g, '\n');
          assert.match(line, /^dcm: [^\n]*\n$/, `${label}: stderr ${JSON.stringify(res.stderr)}`);
          assert.ok(!UNSAFE_ON_TERMINAL.test(line.slice(0, -1)), `${label}: raw control in ${JSON.stringify(line)}`);
          assert.ok(line.length <= 300, `${label}: ${line.length} chars`);
        }
        assert.ok(!UNSAFE_ON_TERMINAL.test(res.stdout.replace(/[\r\n]/g, '')), `${label}: raw control on stdout`);
        assertEngineTyped(calls, label);
        if (h.store.containers.byOwner('alice').length) await removeAlices();
      }
    } finally {
      await timer.stop();
      alice.end();
    }
    assert.equal(h.store.users.list().length, users, 'no user was made');
    const worst = timer.assertServed(SHOW_MAX_MS);
    console.log(
      `fuzz exec: ${n} commands, ${refused} refused, in ${Date.now() - t0} ms; slowest ${slowest} ms; bob's show: ${timer.times.length} runs, worst ${worst} ms`,
    );
  });
});
