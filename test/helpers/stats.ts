/** Figures of a set of timings, for the tests and benches that measure. */

/** The p-th percentile (nearest rank) of xs. */
export const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

/** The middle value of xs (the upper one of the two when their number is even). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
