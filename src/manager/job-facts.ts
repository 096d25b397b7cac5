/**
 * What a batch job (`run`) is, as its database row keeps it: the command as
 * the user gave it (argv; empty for the image's own), whether it has a
 * terminal and an open stdin, and whether it runs as root. Kept for `show`
 * and for `attach` and `exec` (a terminal or not); never sent to Docker again.
 */
import type { ContainerRow } from '../store/containers-repo.js';

export interface JobFacts {
  command: string[];
  tty: boolean;
  stdin: boolean;
  root: boolean;
}

export function jobJson(f: JobFacts): string {
  return JSON.stringify(f);
}

/** The row's job, or null for a container made by `create` (a row that cannot be read counts as a job without a terminal). */
export function jobOf(row: Pick<ContainerRow, 'job'>): JobFacts | null {
  if (row.job === null || row.job === undefined) return null;
  try {
    const j = JSON.parse(row.job) as Partial<JobFacts>;
    return {
      command: Array.isArray(j.command) ? j.command.filter((w): w is string => typeof w === 'string') : [],
      tty: j.tty === true,
      stdin: j.stdin === true,
      root: j.root === true,
    };
  } catch {
    return { command: [], tty: false, stdin: false, root: false };
  }
}
