/**
 * Replaces process.kill and records the signals this process sends itself,
 * none of them delivered: readline answers Ctrl-Z with SIGTSTP to its own
 * process, which would stop the test runner as it stopped dcm-server.
 * Returns the recorded signals and a restore.
 */
export function watchSignalsToSelf(): { sent: string[]; restore: () => void } {
  const real = process.kill;
  const sent: string[] = [];
  process.kill = ((pid: number, signal?: string | number) => {
    if (pid === process.pid) {
      sent.push(String(signal));
      return true;
    }
    return real.call(process, pid, signal);
  }) as typeof process.kill;
  return { sent, restore: () => (process.kill = real) };
}

/** The signals this process sent itself while `fn` ran (see watchSignalsToSelf). */
export async function signalsToSelf(fn: () => Promise<void>): Promise<string[]> {
  const w = watchSignalsToSelf();
  try {
    await fn();
  } finally {
    w.restore();
  }
  return w.sent;
}
