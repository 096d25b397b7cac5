/**
 * A second, private dockerd started with `--userns-remap`, for tests of dcm on
 * an engine with user namespaces: own-engine.ts's private daemon (its own data
 * root, exec root, socket, pid file and bridge, here on a private
 * 10.217.X.0/24; --iptables=false, so it never touches the shared engine),
 * plus a remap account of its own: a system user and its lines in /etc/subuid
 * and /etc/subgid, with a subordinate range large enough for dcm's default
 * uid range. stop() removes all of it.
 */
import { appendFileSync, chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { run, type RunResult } from './env.js';
import { must, startOwnEngine } from './own-engine.js';

export interface RemapEngine {
  socket: string;
  /** The remap account and its subordinate ranges (the same for uids and gids). */
  user: string;
  base: number;
  count: number;
  /** The docker CLI against this engine. */
  docker(...args: string[]): Promise<RunResult>;
  stop(): Promise<void>;
}

/** Enough for dcm's default storage.uid_range (200000-299999) and more. */
const COUNT = 400_000;

const SUB_FILES = ['/etc/subuid', '/etc/subgid'];

/** A base no existing subordinate line overlaps. */
function freeBase(): number {
  const used = SUB_FILES.flatMap((f) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n') : []))
    .map((l) => l.split(':'))
    .filter((f) => f.length === 3)
    .map((f) => ({ lo: Number(f[1]), hi: Number(f[1]) + Number(f[2]) }));
  for (let i = 0; i < 50; i++) {
    const base = 1_000_000_000 + randomInt(0, 1000) * 1_000_000;
    if (used.every((u) => base + COUNT <= u.lo || base >= u.hi)) return base;
  }
  throw new Error('no free subordinate id range');
}

const account = (tag: string) => `dcmremap${tag}`;

export async function startRemapEngine(): Promise<RemapEngine> {
  let user = '';
  let base = 0;
  const engine = await startOwnEngine({
    name: 'remap-engine',
    bridgePrefix: 'dcmux',
    net: 217,
    args: (tag) => [`--userns-remap=${account(tag)}`],
    prepare: async (dir, tag, undo) => {
      user = account(tag);
      // dockerd requires o+x on every directory above its remapped data root.
      chmodSync(dir, 0o711);
      await must('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', user]);
      undo(async () => {
        await run('userdel', [user]);
      });
      base = freeBase();
      const line = `${user}:${base}:${COUNT}\n`;
      for (const f of SUB_FILES) appendFileSync(f, line);
      undo(() => {
        for (const f of SUB_FILES) {
          if (!existsSync(f)) continue;
          const kept = readFileSync(f, 'utf8')
            .split('\n')
            .filter((l) => l !== line.trim());
          writeFileSync(f, kept.join('\n'));
        }
      });
    },
  });
  return { socket: engine.socket, user, base, count: COUNT, docker: engine.docker, stop: engine.stop };
}
