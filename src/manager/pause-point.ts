/**
 * Test hook for the crash tests: with DCM_TEST_PAUSE_AT=<step> in its
 * environment (e.g. "create:after-engine-create"), the process doing that step
 * writes "DCM_TEST_PAUSED <step>" to its own stderr and waits there for ever,
 * so a test can SIGKILL it at exactly that step.
 *
 * Inert in production: the variable is read once at load, and when it is
 * unset (or names another step) a pause point is one string comparison.
 * Users cannot set it: sudo resets the environment, sshd passes no DCM_*
 * variable, and dcm-server runs every command in its own environment, which
 * only the administrator sets. It can only make a command wait; it grants nothing.
 */
import { writeSync } from 'node:fs';

const ARMED = process.env.DCM_TEST_PAUSE_AT ?? '';

/** The steps tests can arm, by command. */
export type PauseStep =
  | 'create:after-reserve'
  | 'create:after-engine-create'
  | 'create:after-record-id'
  | 'create:after-start'
  | 'create:before-created'
  | 'rm:after-mark'
  | 'rm:after-engine-remove'
  | 'start:after-claim'
  | 'start:after-engine-start'
  | 'commit:after-claim'
  | 'commit:after-engine-commit'
  | 'commit:after-record'
  | 'useradd:after-row'
  | 'useradd:after-dirs'
  | 'useradd:after-keys'
  | 'network:after-row'
  | 'network:after-engine-create'
  | 'userdel:after-block'
  | 'userdel:after-mark'
  | 'userdel:after-containers'
  | 'userdel:after-images'
  | 'userdel:after-storage'
  | 'userdel:after-user-row';

export async function pausePoint(step: PauseStep): Promise<void> {
  if (ARMED !== step) return;
  process.stderr.write(`DCM_TEST_PAUSED ${step} ${process.pid}\n`);
  // A timer keeps a one-shot process from exiting; nothing ever resolves this.
  await new Promise<never>(() => setInterval(() => {}, 1 << 30));
}

/**
 * pausePoint for synchronous code (dcm-useradd's steps): the whole process
 * stops there, event loop included, until it is killed.
 */
export function pausePointSync(step: PauseStep): void {
  if (ARMED !== step) return;
  writeSync(2, `DCM_TEST_PAUSED ${step} ${process.pid}\n`);
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}
