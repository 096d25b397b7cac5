/**
 * bench/show-scale: `show` on a big installation, server-side (the command
 * core, no SSH): 1,000 users and 10,000 container rows made directly through
 * the store's repositories, the containers in the fake engine with dcm's
 * labels. Prints show's p50/p99 (target: within 20 ms), and what it is made
 * of: the database part (the user's rows and their ports) and the engine's
 * answer, narrowed to the user's containers as show asks for it, and for
 * the whole installation as it used to. Also the query plans of the
 * database part (an index scan, not a table scan, is what keeps it flat).
 * Bounded: one pass of 500 shows.
 *
 *   npm run bench:show-scale [-- --users N --per-user K]
 */
import { LABEL_INSTANCE, LABEL_OWNER } from '../src/engine/labels.js';
import { assemble } from '../src/main.js';
import { makeScaleInstall, scaleUser } from '../test/helpers/scale-db.js';
import { rawDb } from '../test/helpers/raw-db.js';
import { tempDir } from '../test/helpers/tmp.js';
import { pct } from '../test/helpers/stats.js';

const arg = (name: string, dflt: number) => Math.min(Number(process.argv[process.argv.indexOf(name) + 1]) || dflt, 100_000);
const USERS = arg('--users', 1000);
const PER_USER = arg('--per-user', 10);
const SHOWS = 500;

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(2)} ms, p99 ${pct(xs, 99).toFixed(2)} ms`;

async function main(): Promise<void> {
  const t0 = process.hrtime.bigint();
  const s = makeScaleInstall(tempDir('dcm-bench-showscale-'), USERS, PER_USER);
  try {
    console.log(`made ${USERS} users, ${USERS * PER_USER} container rows and engine containers in ${ms(t0).toFixed(0)} ms`);
    const { core } = assemble(s.deps);
    const userAt = (i: number) => scaleUser((i * 389) % USERS);
    for (let i = 0; i < 20; i++) await core.run(userAt(i), ['show']);

    const show: number[] = [];
    for (let i = 0; i < SHOWS; i++) {
      const t = process.hrtime.bigint();
      const r = await core.run(userAt(i), ['show']);
      show.push(ms(t));
      if (r.code !== 0) throw new Error(`show exited ${r.code}: ${r.stderr}`);
    }
    const db: number[] = [];
    for (let i = 0; i < SHOWS; i++) {
      const t = process.hrtime.bigint();
      s.store.users.get(userAt(i));
      for (const row of s.store.containers.byOwner(userAt(i))) s.store.containers.ports(row.id);
      db.push(ms(t));
    }
    const narrowed: number[] = [];
    for (let i = 0; i < SHOWS; i++) {
      const t = process.hrtime.bigint();
      await s.engine.list([`${LABEL_INSTANCE}=${s.config.instance}`, `${LABEL_OWNER}=${userAt(i)}`]);
      narrowed.push(ms(t));
    }
    const whole: number[] = [];
    let wholeSize = 0;
    for (let i = 0; i < 50; i++) {
      const t = process.hrtime.bigint();
      wholeSize = (await s.engine.list([`${LABEL_INSTANCE}=${s.config.instance}`])).length;
      whole.push(ms(t));
    }
    // The same answer through Docker's API: JSON of the size the engine would send and dockerode would parse.
    const sample = {
      Id: 'c'.repeat(64),
      Names: ['/scale-0123abcd-20000'],
      Image: `sha256:${'0'.repeat(64)}`,
      Command: '/usr/local/lib/dcm/dcm-init.sh',
      Created: 1764576000,
      Ports: [{ IP: '127.0.0.1', PrivatePort: 22, PublicPort: 20000, Type: 'tcp' }],
      Labels: { 'dcm.managed': '1', 'dcm.owner': 'u0000', 'dcm.instance': 'scale', 'dcm.installation': 'x'.repeat(32), 'dcm.id': '20000' },
      State: 'running',
      Status: 'Up 3 hours',
      HostConfig: { NetworkMode: 'dcm-u0000' },
      NetworkSettings: { Networks: { 'dcm-u0000': { IPAddress: '10.213.0.2', Gateway: '10.213.0.1', MacAddress: '02:42:0a:d5:00:02' } } },
      Mounts: [],
    };
    const parse = (n: number) => {
      const text = JSON.stringify(Array.from({ length: n }, () => sample));
      const t = process.hrtime.bigint();
      JSON.parse(text);
      return { ms: ms(t), kb: text.length / 1024 };
    };
    const parsedWhole = parse(wholeSize);
    const parsedNarrow = parse(PER_USER);

    const raw = rawDb(s.store);
    const plan = (sql: string) => (raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; ');
    const plans = {
      rows: plan("SELECT * FROM containers WHERE owner = 'u0001' ORDER BY id"),
      ports: plan('SELECT * FROM port_allocations WHERE container_id = 20000'),
      user: plan("SELECT * FROM users WHERE name = 'u0001'"),
    };
    raw.close();

    console.log(`show, ${USERS} users / ${USERS * PER_USER} containers, server-side (command core, fake engine), ${SHOWS} runs:`);
    console.log(`  show total                 ${fmt(show)} (target: within 20 ms)`);
    console.log(`  database part              ${fmt(db)} (user, rows, ports)`);
    console.log(`  engine list, owner's only  ${fmt(narrowed)} (${PER_USER} containers back; the fake scans all ${USERS * PER_USER})`);
    console.log(`  engine list, installation  ${fmt(whole)} (${wholeSize} containers back: what show asked for before)`);
    console.log(
      `  Docker's answer as JSON    ${parsedWhole.kb.toFixed(0)} KB for the installation (JSON.parse ${parsedWhole.ms.toFixed(1)} ms), ${parsedNarrow.kb.toFixed(1)} KB for one user (${parsedNarrow.ms.toFixed(2)} ms)`,
    );
    console.log(`  query plans: rows: ${plans.rows} | ports: ${plans.ports} | user: ${plans.user}`);
    if (pct(show, 50) > 20) process.exitCode = 1;
  } finally {
    s.store.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
