/**
 * Fuzz of the command parser: generated hostile command lines (see
 * test/helpers/fuzz.ts) through splitWords, parseArgs, and CommandCore.stream
 * over the fake engine, whose every call is recorded. Seeded: the seed is
 * printed, DCM_FUZZ_SEED reproduces it, and a failure names the input.
 *
 * Asserted for every input: no throw other than a usage error, a bounded
 * time, a refusal is exactly one printable line on stderr, and nothing reaches
 * the engine except typed, validated values (no effect at all when refused).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { splitWords, joinWords } from '../../src/shell/words.js';
import { parseArgs, takeOptions, COMMON_FLAGS } from '../../src/args/parse.js';
import { COMMANDS, findCommand } from '../../src/shell/commands/index.js';
import { DcmError } from '../../src/errors.js';
import { checkContainerName } from '../../src/names.js';
import { Rng, UNSAFE_ON_TERMINAL, caseLabel, commandLine, fuzzCount, fuzzSeed, seedLine } from '../helpers/fuzz.js';
import { MUTATING, recordEngineCalls, stringLeaves, type EngineCall } from '../helpers/engine-calls.js';
import { startInProcessServer, type InProcessServer } from '../helpers/in-process-server.js';

const SEED = fuzzSeed();
/** Longest a refusal line may be: user text in it is clipped (names.ts clip). */
const LINE_MAX = 300;
/** What may reach the engine anywhere in a call: dcm's own names, ids, paths and numbers. */
const ENGINE_TEXT = /^[A-Za-z0-9._:/=@+,-]*$/;
/** Engine calls that change something, per command that may make them (create rolls back with remove). */
const MAY_CHANGE: Record<string, string[]> = {
  create: ['createContainer', 'start', 'createNetwork', 'remove'],
  start: ['start'],
  stop: ['stop'],
  restart: ['restart'],
  pause: ['pause'],
  unpause: ['unpause'],
  rm: ['stop', 'remove'],
  commit: ['commit', 'tag', 'removeImage'],
  rmi: ['removeImage'],
};

/** Refusal: one line "dcm: ...", no raw control or reordering characters, bounded length. */
function assertOneClearLine(stderr: string, label: string): void {
  assert.match(stderr, /^dcm: [^\n]*\n$/, `${label}: stderr is not exactly one "dcm: ..." line: ${JSON.stringify(stderr)}`);
  assert.ok(!UNSAFE_ON_TERMINAL.test(stderr.slice(0, -1)), `${label}: raw control in ${JSON.stringify(stderr)}`);
  assert.ok(stderr.length <= LINE_MAX, `${label}: refusal line of ${stderr.length} chars`);
}

describe('fuzz: command parser', () => {
  const lines: string[] = [];
  before(() => {
    console.log(seedLine('parser', SEED));
    const r = new Rng(SEED, 'parser');
    const n = fuzzCount(3000);
    for (let i = 0; i < n; i++) lines.push(commandLine(r));
  });

  test('splitWords: words, or the one "unterminated quote" refusal; linear time; joinWords splits back to the same words', () => {
    const t0 = Date.now();
    let split = 0;
    for (const [i, line] of lines.entries()) {
      const label = caseLabel('splitWords', SEED, i, line);
      const s = Date.now();
      let words: string[];
      try {
        words = splitWords(line);
      } catch (e) {
        assert.ok(e instanceof DcmError && e.code === 'usage', `${label}: threw ${(e as Error).stack}`);
        assert.match(e.userMessage, /^unterminated (double|single) quote$/, label);
        continue;
      }
      split++;
      assert.ok(Date.now() - s < 250, `${label}: took ${Date.now() - s} ms`);
      assert.ok(
        words.every((w) => typeof w === 'string'),
        label,
      );
      assert.deepEqual(splitWords(joinWords(words)), words, label);
    }
    console.log(`fuzz splitWords: ${lines.length} lines (${split} split, ${lines.length - split} refused) in ${Date.now() - t0} ms`);
  });

  test('parseArgs and takeOptions: every command spec over every line gives flags or one printable usage line; no prototype is touched', () => {
    const t0 = Date.now();
    let calls = 0;
    for (const [i, line] of lines.entries()) {
      let words: string[];
      try {
        words = splitWords(line);
      } catch {
        continue;
      }
      const label = caseLabel('parseArgs', SEED, i, line);
      for (const cmd of COMMANDS) {
        calls++;
        try {
          const a = parseArgs(cmd.name, words, cmd.args);
          for (const name of Object.keys(a.flags))
            assert.ok(Object.hasOwn({ ...COMMON_FLAGS, ...cmd.args.flags }, name), `${label}: flag ${name}`);
          // A last positional marked "..." (CONTAINER..., COMMAND?...) takes every word left.
          assert.ok(a.positional.length <= cmd.args.positional.length || cmd.args.positional.at(-1)!.endsWith('...'), label);
        } catch (e) {
          assert.ok(e instanceof DcmError && e.code === 'usage', `${label}: ${cmd.name} threw ${(e as Error).stack}`);
          assert.ok(!e.userMessage.includes('\n') && !UNSAFE_ON_TERMINAL.test(e.userMessage), `${label}: ${JSON.stringify(e.userMessage)}`);
          assert.ok(e.userMessage.length <= LINE_MAX, `${label}: ${e.userMessage.length} chars`);
        }
      }
      calls++;
      const t = takeOptions('dcm', words, { json: COMMON_FLAGS.json! });
      assert.ok(t.rest.length <= words.length, label);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(Object.keys(Object.prototype), []);
    console.log(`fuzz parseArgs: ${calls} parses of ${lines.length} lines in ${Date.now() - t0} ms`);
  });
});

describe('fuzz: CommandCore over the fake engine', () => {
  let h: InProcessServer;
  let calls: EngineCall[];
  before(async () => {
    // The fuzz sends far more commands than a person would: the command rate must not be what refuses them.
    h = await startInProcessServer({ server: { commands_per_minute: 1_000_000, command_burst: 1_000_000 } });
    h.addUser('alice');
    calls = recordEngineCalls(h.engine);
  });
  after(async () => {
    await h?.stop();
  });

  test('hostile command lines: bounded time, one clear line when refused, only typed values reach the engine', async () => {
    console.log(seedLine('core', SEED));
    const r = new Rng(SEED, 'core');
    const n = fuzzCount(1500);
    const t0 = Date.now();
    let slowest = 0;
    let refused = 0;
    let created = 0;
    const users = h.store.users.list().length;
    for (let i = 0; i < n; i++) {
      const line = commandLine(r, { maxChars: 9000 });
      const label = caseLabel('core', SEED, i, line);
      let words: string[];
      try {
        words = splitWords(line);
      } catch {
        continue;
      }
      calls.length = 0;
      const rowsBefore = h.store.containers.all().length;
      const s = Date.now();
      const res = await h.core.run('alice', words);
      const took = Date.now() - s;
      slowest = Math.max(slowest, took);
      assert.ok(took < 2000, `${label}: took ${took} ms`);
      assert.ok(Number.isInteger(res.code) && res.code >= 0 && res.code <= 7, `${label}: exit ${res.code}`);
      // Nothing printed carries a raw control: user text is escaped wherever it is shown.
      assert.ok(
        !UNSAFE_ON_TERMINAL.test(res.stdout.replace(/\n/g, '')),
        `${label}: raw control on stdout ${JSON.stringify(res.stdout.slice(0, 400))}`,
      );
      for (const c of calls)
        for (const leaf of stringLeaves(c.args))
          assert.match(leaf.value, ENGINE_TEXT, `${label}: ${c.method} argument ${leaf.at} carries ${JSON.stringify(leaf.value)}`);
      const changes = calls.filter((c) => MUTATING.has(c.method));
      if (res.code !== 0) {
        refused++;
        assertOneClearLine(res.stderr, label);
        assert.deepEqual(
          changes.map((c) => c.method),
          [],
          `${label}: refused, yet the engine was changed`,
        );
        assert.equal(h.store.containers.all().length, rowsBefore, `${label}: refused, yet a row was made`);
        continue;
      }
      const cmd = findCommand(words[0] ?? 'help');
      for (const c of changes)
        assert.ok(MAY_CHANGE[cmd?.name ?? '']?.includes(c.method), `${label}: ${cmd?.name} made engine call ${c.method}`);
      for (const c of calls.filter((x) => x.method === 'createContainer')) {
        created++;
        // The only user-chosen text in a spec: the container's name, as its hostname, validated.
        const spec = c.args[0] as { hostname: string };
        assert.doesNotThrow(() => checkContainerName(spec.hostname), `${label}: hostname ${spec.hostname}`);
      }
      // A valid create made by chance is removed again, so limits never turn later cases into refusals.
      for (const row of h.store.containers.all()) await h.core.run('alice', ['rm', '-f', String(row.id)]);
    }
    assert.equal(h.store.users.list().length, users, 'no user was made');
    console.log(
      `fuzz core: ${n} command lines, ${refused} refused, ${created} valid creates, slowest ${slowest} ms, ${Date.now() - t0} ms in all`,
    );
  });
});
