/**
 * `show`'s list joins the engine's container list to the user's rows; the
 * list does not say how a container ended (exit code, out of memory), so each
 * of the user's containers that is not up is inspected too. Running ones, the
 * usual case, cost nothing more. The list's own words (state, status) stay.
 */
import type { ContainerStatus, Engine } from '../engine/engine.js';
import type { ContainerRow } from '../store/containers-repo.js';

const UP = new Set(['running', 'paused']);

/** Row id → the engine's view of its container (null: gone), with how it ended for those not up. */
export async function withEndFacts(
  engine: Engine,
  rows: ContainerRow[],
  listed: Map<string, ContainerStatus>,
): Promise<Map<number, ContainerStatus | null>> {
  const out = new Map<number, ContainerStatus | null>();
  await Promise.all(
    rows.map(async (r) => {
      const st = (r.docker_id && listed.get(r.docker_id)) || null;
      if (!st || UP.has(st.state)) return out.set(r.id, st);
      const i = await engine.inspect(st.id);
      out.set(
        r.id,
        i && {
          ...st,
          exitCode: i.exitCode,
          oomKilled: i.oomKilled,
          finishedAt: i.finishedAt,
          restartCount: i.restartCount,
        },
      );
    }),
  );
  return out;
}
