/**
 * Records every call made to an Engine object, with its arguments, by
 * wrapping its methods in place (the object stays the one the managers hold).
 * The fuzz tests check these against the typed allowlist: no user text reaches
 * the engine except through fields that were validated.
 */
import type { Engine } from '../../src/engine/engine.js';

export interface EngineCall {
  method: string;
  args: unknown[];
}

/** Engine calls that change something; the others only read. */
export const MUTATING = new Set([
  'createContainer',
  'start',
  'stop',
  'restart',
  'pause',
  'unpause',
  'remove',
  'commit',
  'tag',
  'removeImage',
  'createNetwork',
  'removeNetwork',
  'reconnectNetwork',
]);

/** Starts recording; the returned array grows with each call. */
export function recordEngineCalls(engine: Engine): EngineCall[] {
  const calls: EngineCall[] = [];
  const target = engine as unknown as Record<string, unknown>;
  const proto = Object.getPrototypeOf(engine) as Record<string, unknown>;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const fn = target[name];
    if (name === 'constructor' || typeof fn !== 'function') continue;
    target[name] = function (this: unknown, ...args: unknown[]) {
      calls.push({ method: name, args });
      return (fn as (...a: unknown[]) => unknown).apply(engine, args);
    };
  }
  return calls;
}

/** Every string inside a value, with where it sits ("0.hostname", "0.labels.dcm.owner"). */
export function stringLeaves(v: unknown, at = ''): { at: string; value: string }[] {
  if (typeof v === 'string') return [{ at, value: v }];
  if (Array.isArray(v)) return v.flatMap((x, i) => stringLeaves(x, at ? `${at}.${i}` : String(i)));
  if (v && typeof v === 'object')
    return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => [
      { at: at ? `${at}.<key>` : '<key>', value: k },
      ...stringLeaves(x, at ? `${at}.${k}` : k),
    ]);
  return [];
}
