/**
 * Fuzz of the interactive shell's line editor: an ssh2 client asks for a pty
 * and a shell on dcm-server in this process (real SSH over loopback, real
 * SQLite, the fake engine with every call recorded) and types generated
 * bytes (command lines, editing keys, escape sequences cut short, bracketed
 * paste, lone ESC, Ctrl-C/-D/-U/-Z, invalid UTF-8, NUL, very long lines),
 * then Enter, while a second user's `show` is timed throughout. Seeded: the
 * seed is printed, DCM_FUZZ_SEED reproduces it, and a failure names the input.
 *
 * After each input the test presses Ctrl-C (abandons the line, cancels a
 * wizard, stops a command) and types a line `zzsyncN`, which must be answered
 * by its own one-line refusal within a bound: so every earlier line was
 * answered, and the editor is back at a clean prompt. Asserted for every
 * input: that bound (no hang), every byte written back is valid UTF-8 and
 * visible text (no ESC but the editor's own cursor moves, no C0/C1 control,
 * no bidi or zero-width character), each `dcm:` refusal is one printable line
 * and every failed command has one, only typed values reach the engine, the
 * server never signals its own process, and the other user's `show` stays fast.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import type ssh2 from 'ssh2';
import { Rng, UNSAFE_ON_TERMINAL, caseLabel, fuzzBudgetMs, fuzzCount, fuzzSeed, seedLine, typedInput } from '../helpers/fuzz.js';
import { assertEngineTyped, recordEngineCalls, type EngineCall } from '../helpers/engine-calls.js';
import { showTimer, startInProcessServer, type InProcessServer } from '../helpers/in-process-server.js';
import { watchSignalsToSelf } from '../helpers/signals-to-self.js';

const SEED = fuzzSeed();
/** How long the shell may take to answer the sync line typed after a fuzz input: this, plus ANSWER_MS_PER_KB for each KiB typed. */
const ANSWER_MS = 20_000;
/**
 * The shell hands typed input on one key (or run of text) per turn of the
 * event loop, so other sessions keep their turn: a long input takes time in
 * proportion to its length, never without bound. Measured: a 4000-character
 * line costs the server 0.1-0.4 s of CPU; a 6.7 KB case answered in 2.8 s on
 * its own at a load average of 45 on 2 cores, and took over 16 s beside
 * another test file there. The bounds leave room for such a machine; a hang
 * (such as the stopped process Ctrl-Z caused) never answers at all.
 */
const ANSWER_MS_PER_KB = 2000;
/**
 * Bound on the other user's `show` while the fuzz runs. Higher than the exec
 * fuzz's 2 s: here the typing client, the server and bob share one process,
 * and every key is a turn of its event loop with output to encrypt twice
 * (measured: a few hundred ms on a quiet machine, up to 1.9 s at a load
 * average of 14-30 on 2 cores).
 */
const SHOW_MAX_MS = 3000;
/** Longest `dcm:` line the shell may print (a refusal quotes at most a clipped part of the input). */
const LINE_MAX_CHARS = 300;
// biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes start with ESC
const SGR = /\x1b\[[0-9;]*m/g;
/** Whether text holds a colour code (replace, not test: a /g regex keeps its place between calls). */
const hasSgr = (s: string) => s.replace(SGR, '') !== s;
/**
 * What the line editor itself writes to move the cursor and clear: CSI with
 * numeric parameters and a cursor/erase final byte, and inquirer's cursor
 * hide/show. No colour: the session sends NO_COLOR, so an SGR would be typed text.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the editor's own escape sequences are what is allowed
const EDITOR_CSI = /\x1b\[[0-9;]*[ABCDEGHJK]|\x1b\[\?25[hl]/g;

/** Where the output holds something a terminal would act on, or null: ESC not part of the editor's moves, controls, hidden characters. */
function rawControl(text: string): string | null {
  const rest = text.replace(EDITOR_CSI, '').replace(/[\r\n]/g, '');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding raw control characters is the point
  const m = /\x1b/.exec(rest) ?? UNSAFE_ON_TERMINAL.exec(rest);
  if (!m) return null;
  return JSON.stringify(rest.slice(Math.max(0, m.index - 40), m.index + 40));
}

/**
 * An interactive shell with a pty, what it writes kept as bytes from the
 * oldest mark still wanted on. Output is looked at by polling, not on every
 * chunk: a line edited in its middle is redrawn on every key, megabytes in
 * small chunks, and searching it all on each one would starve the server this
 * test shares its process with.
 */
class Shell {
  private chunks: Buffer[] = [];
  /** Byte offset of chunks[0] in everything written. */
  private base = 0;
  private bytes = 0;
  closed = false;
  exitCode: number | null = null;
  /** Resolves when the channel has closed. */
  readonly done: Promise<void>;

  private constructor(readonly ch: ssh2.ClientChannel) {
    ch.on('data', (d: Buffer) => this.add(d));
    ch.stderr.on('data', (d: Buffer) => this.add(d));
    ch.on('exit', (code: number) => (this.exitCode = code));
    this.done = new Promise((resolve) =>
      ch.on('close', () => {
        this.closed = true;
        resolve();
      }),
    );
  }

  /** By default with NO_COLOR: the shell then writes no SGR of its own, so any in the output came from the input. */
  static open(c: ssh2.Client, term = 'xterm', env: Record<string, string> = { NO_COLOR: '1' }): Promise<Shell> {
    return new Promise((resolve, reject) => {
      c.shell({ term, cols: 80, rows: 24 }, { env }, (err, ch) => (err ? reject(err) : resolve(new Shell(ch))));
    });
  }

  private add(d: Buffer): void {
    this.chunks.push(d);
    this.bytes += d.length;
  }

  /** Bytes written so far (a mark for `since`). */
  get length(): number {
    return this.bytes;
  }

  /** Everything written from byte `mark` on (`mark` no older than the last `forgetBefore`). */
  since(mark: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [all];
    return all.subarray(mark - this.base);
  }

  /** Output before `mark` is not wanted any more. */
  forgetBefore(mark: number): void {
    this.chunks = [this.since(mark)];
    this.base = mark;
  }

  /**
   * Resolves true when the output from `mark` on holds `text` (colour codes
   * left out), false when the channel closed first or `ms` passed.
   */
  async waitFor(text: string, mark: number, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    let seen = -1;
    for (;;) {
      if (this.bytes !== seen) {
        seen = this.bytes;
        if (this.since(mark).toString().replace(SGR, '').includes(text)) return true;
      }
      if (this.closed || Date.now() >= end) return this.since(mark).toString().replace(SGR, '').includes(text);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  write(b: Buffer | string): void {
    if (!this.closed) this.ch.write(b);
  }
}

describe('fuzz: the interactive shell over SSH with a pty, in process', () => {
  let h: InProcessServer;
  let calls: EngineCall[];
  let bob: ssh2.Client;
  let signals: ReturnType<typeof watchSignalsToSelf>;
  /** alice's commands as the shell ran them, with their exit codes. */
  const runs: { words: string[]; code: number | null }[] = [];
  before(async () => {
    signals = watchSignalsToSelf();
    // The fuzz types far more commands than a person would: the command rate must not be what refuses them.
    h = await startInProcessServer({ server: { commands_per_minute: 1_000_000, command_burst: 1_000_000 } });
    h.addUser('alice');
    h.addUser('bob');
    calls = recordEngineCalls(h.engine);
    const stream = h.core.stream.bind(h.core);
    h.core.stream = async (user, words, output, signal) => {
      const run = { words, code: null as number | null };
      if (user === 'alice') runs.push(run);
      run.code = await stream(user, words, output, signal);
      return run.code;
    };
    bob = await h.connect('bob');
  });
  after(async () => {
    await h?.stop();
    signals?.restore();
  });

  /** Containers a wizard made by chance are removed, so the user's limit never turns later cases into refusals. */
  async function removeAlices(): Promise<void> {
    for (const row of h.store.containers.byOwner('alice')) await h.core.run('alice', ['rm', '-f', String(row.id)]);
  }

  test('Ctrl-Z at the prompt and in a wizard question does nothing: the server never sends itself SIGTSTP', async () => {
    const alice = await h.connect('alice');
    try {
      const sh = await Shell.open(alice);
      assert.ok(await sh.waitFor('alice@dcm> ', 0, ANSWER_MS), 'no prompt');
      let mark = sh.length;
      sh.write('who\x1aami\r');
      assert.ok(await sh.waitFor('storage    ', mark, ANSWER_MS), `whoami not answered: ${JSON.stringify(sh.since(mark).toString())}`);
      // In a wizard question (create without an image), inquirer reads the keys through its own readline.
      mark = sh.length;
      sh.write('create\r');
      assert.ok(await sh.waitFor('Image', mark, ANSWER_MS), 'no wizard');
      sh.write('\x1a');
      mark = sh.length;
      sh.write('\x03');
      assert.ok(await sh.waitFor('cancelled', mark, ANSWER_MS), `wizard not cancelled: ${JSON.stringify(sh.since(mark).toString())}`);
      assert.deepEqual(signals.sent, [], 'signals the server sent its own process');
      mark = sh.length;
      sh.write('exit\r');
      assert.ok(await sh.waitFor('logout', mark, ANSWER_MS));
    } finally {
      alice.end();
    }
  });

  test("a wizard question is in the session's colour: none with NO_COLOR, some on xterm-256color", async () => {
    const alice = await h.connect('alice');
    const question = async (sh: Shell): Promise<string> => {
      assert.ok(await sh.waitFor('alice@dcm> ', 0, ANSWER_MS), 'no prompt');
      const mark = sh.length;
      sh.write('rm a\r');
      assert.ok(await sh.waitFor('(your storage is kept)?', mark, ANSWER_MS), 'no question');
      const asked = sh.since(mark).toString();
      sh.write('n\r');
      assert.ok(await sh.waitFor('kept\r\n', mark, ANSWER_MS), 'not kept');
      sh.write('exit\r');
      // Closed before the next one opens: the user's session limit counts open shells.
      assert.ok(await sh.waitFor('logout', mark, ANSWER_MS), 'exit not answered');
      await sh.done;
      return asked;
    };
    try {
      assert.equal(hasSgr(await question(await Shell.open(alice))), false, 'colour with NO_COLOR');
      assert.equal(hasSgr(await question(await Shell.open(alice, 'dumb', {}))), false, 'colour on a dumb terminal');
      assert.equal(hasSgr(await question(await Shell.open(alice, 'xterm-256color', {}))), true, 'no colour on xterm-256color');
    } finally {
      alice.end();
    }
  });

  test('generated typing: every line answered within the bound, only visible text written back, one line per refusal', async () => {
    signals.sent.length = 0;
    console.log(seedLine('shell', SEED));
    const r = new Rng(SEED, 'shell');
    const n = fuzzCount(150);
    // The budget ends the loop first on a loaded machine (at a load average of 15-50 on 2 cores, 44-93 of the 150 ran).
    const budget = fuzzBudgetMs(35_000);
    const users = h.store.users.list().length;
    const alice = await h.connect('alice');
    const timer = showTimer(bob, 100);
    const t0 = Date.now();
    let sh = await Shell.open(alice);
    let sessions = 1;
    let typed = 0;
    let refusals = 0;
    let slowest = 0;
    let slowestPerKb = 0;
    let ran = 0;
    try {
      assert.ok(await sh.waitFor('alice@dcm> ', 0, ANSWER_MS), 'no prompt');
      for (; ran < n && Date.now() - t0 < budget; ran++) {
        const i = ran;
        const input = typedInput(r);
        typed += input.length;
        const label = caseLabel('shell', SEED, i, input);
        calls.length = 0;
        runs.length = 0;
        const mark = sh.length;
        sh.forgetBefore(mark);
        const t = Date.now();
        sh.write(Buffer.concat([input, Buffer.from('\r')]));
        // Ctrl-C leaves whatever the input left open (a line, a wizard, a command); then the sync line.
        sh.write('\x03');
        const sync = `zzsync${i}`;
        sh.write(`${sync}\r`);
        const bound = ANSWER_MS + Math.ceil((input.length / 1024) * ANSWER_MS_PER_KB);
        const answered = await sh.waitFor(`dcm: unknown command: ${sync} `, mark, bound);
        const out = sh.since(mark);
        if (!answered) {
          // The input may end the shell (Ctrl-D on an empty line): then cleanly, and a new one is opened.
          assert.ok(sh.closed, `${label}: no answer within ${bound} ms; output ${JSON.stringify(out.toString().slice(-600))}`);
          await new Promise((resolve) => setTimeout(resolve, 50)); // the exit status comes before the close
          assert.equal(sh.exitCode, 0, `${label}: shell ended with ${sh.exitCode}`);
          assert.match(out.toString(), /logout\r\n$/, `${label}: shell ended without logout`);
        }
        const took = Date.now() - t;
        slowest = Math.max(slowest, took);
        slowestPerKb = Math.max(slowestPerKb, took / Math.max(1, input.length / 1024));
        assert.ok(isUtf8(out), `${label}: output is not UTF-8: ${out.toString('hex').slice(0, 400)}`);
        const text = out.toString();
        const raw = rawControl(text);
        assert.equal(raw, null, `${label}: raw control written back near ${raw}`);
        const lines = text.split('\r\n').map((l) => l.replace(EDITOR_CSI, ''));
        const dcmLines = lines.filter((l) => l.includes('dcm: ')).map((l) => l.slice(l.indexOf('dcm: ')));
        for (const l of dcmLines) assert.ok(l.length <= LINE_MAX_CHARS, `${label}: ${l.length} chars: ${JSON.stringify(l)}`);
        const failed = runs.filter((x) => x.code !== 0 && x.code !== null).length;
        // Each failed command said why in a line of its own (the sync line is one of them).
        assert.ok(dcmLines.length >= failed, `${label}: ${failed} commands failed, ${dcmLines.length} dcm: lines: ${JSON.stringify(text)}`);
        refusals += dcmLines.length - (answered ? 1 : 0);
        assertEngineTyped(calls, label);
        assert.deepEqual(signals.sent, [], `${label}: signals the server sent its own process`);
        if (h.store.containers.byOwner('alice').length) await removeAlices();
        if (!answered) {
          sh = await Shell.open(alice);
          sessions++;
          assert.ok(await sh.waitFor('alice@dcm> ', 0, ANSWER_MS), `${label}: no prompt in the next shell`);
        }
      }
      const mark = sh.length;
      sh.write('exit\r');
      assert.ok(await sh.waitFor('logout', mark, ANSWER_MS), 'exit not answered');
    } finally {
      await timer.stop();
      alice.end();
    }
    assert.equal(h.store.users.list().length, users, 'no user was made');
    const worst = timer.assertServed(SHOW_MAX_MS);
    console.log(
      `fuzz shell: ${ran} of ${n} inputs (${typed} bytes) in ${sessions} sessions, ${refusals} dcm: lines, in ${Date.now() - t0} ms; slowest answer ${slowest} ms (${Math.round(slowestPerKb)} ms per KiB typed at most); bob's show: ${timer.times.length} runs, worst ${worst} ms`,
    );
  });
});
