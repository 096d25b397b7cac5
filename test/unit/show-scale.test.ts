/**
 * `show` on a big installation: 1,000 users and 10,000 container rows (made
 * directly through the repositories, the fake engine holding the containers).
 * The engine is asked only for the user's own containers, and show answers
 * within 20 ms server-side (median; bench/show-scale.ts has the figures).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble } from '../../src/main.js';
import { makeScaleInstall, scaleUser } from '../helpers/scale-db.js';
import { tempDir } from '../helpers/tmp.js';
import { pct } from '../helpers/stats.js';

test("show with 1,000 users and 10,000 containers: the engine hands back only the user's 10, in under 20 ms", async () => {
  const s = makeScaleInstall(tempDir('dcm-showscale-'), 1000, 10);
  try {
    const { core } = assemble(s.deps);
    const answered: number[] = [];
    const list = s.engine.list.bind(s.engine);
    s.engine.list = async (labels) => {
      const r = await list(labels);
      answered.push(r.length);
      return r;
    };
    const one = await core.run(scaleUser(417), ['show', '--json']);
    assert.equal(one.code, 0, one.stderr);
    const shown = JSON.parse(one.stdout) as { id: number; state: string }[];
    assert.deepEqual(
      shown.map((c) => c.id),
      Array.from({ length: 10 }, (_, k) => 20000 + 4170 + k),
    );
    assert.deepEqual(
      shown.map((c) => c.state),
      Array.from({ length: 10 }, (_, k) => (k % 3 ? 'running' : 'exited')),
    );
    assert.deepEqual(answered, [10], "the engine's answer held the whole installation");

    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      const user = scaleUser((i * 389) % 1000);
      const t0 = process.hrtime.bigint();
      const r = await core.run(user, ['show']);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.ok(pct(times, 50) <= 20, `show took ${pct(times, 50).toFixed(1)} ms (median of 100)`);
    console.log(`# show, 1,000 users / 10,000 containers: median ${pct(times, 50).toFixed(2)} ms, p99 ${pct(times, 99).toFixed(2)} ms`);
  } finally {
    s.store.close();
  }
});
