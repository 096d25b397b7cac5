/**
 * What the engine knows about how a container last ended and how it is kept
 * running, read from an inspect answer: the exit code, whether the kernel
 * killed it at its memory limit, how often the engine started it again on its
 * own, and its restart policy.
 */
import type { ContainerStatus } from './engine.js';

/** The fields of an inspect answer read here (dockerode types them as always present). */
interface InspectFacts {
  State: { ExitCode?: number; OOMKilled?: boolean; FinishedAt?: string };
  RestartCount?: number;
  HostConfig?: { RestartPolicy?: { Name?: string } };
}

/** Docker's "never": a container that has not ended yet. */
const NEVER = '0001-01-01T00:00:00Z';

export function exitFacts(
  i: InspectFacts,
): Pick<ContainerStatus, 'exitCode' | 'oomKilled' | 'finishedAt' | 'restartCount' | 'restartPolicy'> {
  const finished = i.State.FinishedAt && i.State.FinishedAt !== NEVER ? i.State.FinishedAt : undefined;
  return {
    exitCode: i.State.ExitCode ?? 0,
    oomKilled: i.State.OOMKilled === true,
    ...(finished ? { finishedAt: finished } : {}),
    restartCount: i.RestartCount ?? 0,
    restartPolicy: i.HostConfig?.RestartPolicy?.Name || 'no',
  };
}
