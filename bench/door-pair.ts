/**
 * What the door benches share: two installations on one engine with the same
 * user and key — one that dcm-server will serve, one that no server serves
 * (its one-shot doors do all the work themselves) — and the environment a door
 * really starts with.
 */
import type { TestEnv, TestUser } from '../test/helpers/env.js';

/**
 * The environment a door starts with: sudo's env_reset (or sshd) leaves PATH,
 * HOME and a few more, so variables of the benchmark's own shell
 * (NODE_OPTIONS, NODE_EXTRA_CA_CERTS, which costs every Node start tens of ms)
 * do not reach it.
 */
export function doorEnv(e: TestEnv): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8', ...e.env };
}

/** Both installations with the base image registered and the user `bench` (one key for both). */
export async function doorPair(env: TestEnv, alone: TestEnv): Promise<TestUser> {
  await env.registerBase();
  await alone.registerBase();
  const u = await env.addUser('bench');
  const a = await alone.tool('useradd', 'bench', '--key', `${u.keyFile}.pub`);
  if (a.code !== 0) throw new Error(a.stderr);
  return u;
}
