/**
 * Port numbers for tests. Each test file names fixed ports and ranges in
 * 30000-33999; a whole run shifts them by DCM_TEST_PORT_OFFSET, which
 * scripts/test.sh picks at run time from a free slot, so two runs on one
 * machine (a developer's and CI's, or two checkouts) never share a port,
 * a container id or a Docker name.
 */
const OFFSET = Number(process.env.DCM_TEST_PORT_OFFSET ?? 0);
if (!Number.isInteger(OFFSET) || OFFSET < 0 || OFFSET > 30000)
  throw new Error(`DCM_TEST_PORT_OFFSET=${process.env.DCM_TEST_PORT_OFFSET}: expected a whole number 0-30000`);

/** A test's port, shifted by this run's offset. */
export function tp(port: number): number {
  return port + OFFSET;
}

/** A "low-high" range, shifted by this run's offset. */
export function tpRange(range: string): string {
  const [lo, hi] = range.split('-').map(Number);
  return `${tp(lo!)}-${tp(hi!)}`;
}

/**
 * First characters of every test instance name in this run: `t<slot>-`. A port
 * slot is held by one live run at a time, so when scripts/port-slot.sh takes a
 * slot, Docker objects whose dcm.instance starts with its prefix are leftovers
 * of a run that was killed before its cleanup, and it removes them.
 */
export const INSTANCE_PREFIX = `t${Math.floor(OFFSET / 4000)}-`;
