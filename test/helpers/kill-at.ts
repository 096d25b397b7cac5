/**
 * For the crash tests: runs a door program with one pause point armed
 * (DCM_TEST_PAUSE_AT, src/manager/pause-point.ts), waits until it says it
 * paused there, and SIGKILLs it. Bounded: a program that never pauses is
 * killed after 180 s (a loaded machine makes a create slow) and the promise rejects with what it printed.
 */
import { spawn } from 'node:child_process';
import type { TestEnv } from './env.js';

/** What one kill gives back: when it was killed (ms since the epoch) and the pid it had. */
export interface Killed {
  at: number;
  pid: number;
}

/** Starts `bin args` armed at `step`; `paused` resolves once it pauses (with its pid), `kill()` then kills it. */
export function pauseAt(env: TestEnv, step: string, bin: string, args: string[]): { paused: Promise<number>; kill(): Promise<Killed> } {
  const proc = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env.env, DCM_TEST_PAUSE_AT: step },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let killedAt = 0;
  const timer = setTimeout(() => proc.kill('SIGKILL'), 180_000);
  const exited = new Promise<NodeJS.Signals | null>((r) =>
    proc.on('exit', (_code, signal) => {
      clearTimeout(timer);
      r(signal);
    }),
  );
  const paused = new Promise<number>((resolve, reject) => {
    const seen = (d: Buffer) => {
      out += d;
      if (out.includes(`DCM_TEST_PAUSED ${step}`)) resolve(proc.pid!);
    };
    proc.stdout!.on('data', seen);
    proc.stderr!.on('data', seen);
    void exited.then((signal) => reject(new Error(`${step}: ${args.join(' ')} never paused (signal ${signal}):\n${out}`)));
  });
  return {
    paused,
    async kill() {
      await paused;
      killedAt = Date.now();
      proc.kill('SIGKILL');
      const signal = await exited;
      if (signal !== 'SIGKILL') throw new Error(`${step}: ended by ${signal}, not by the kill:\n${out}`);
      return { at: killedAt, pid: proc.pid! };
    },
  };
}

/** Runs `bin args` armed at `step`, waits until it pauses there, SIGKILLs it; returns when it died (the kill's time). */
export async function killAt(env: TestEnv, step: string, bin: string, args: string[]): Promise<number> {
  return (await pauseAt(env, step, bin, args).kill()).at;
}
