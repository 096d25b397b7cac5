/**
 * Records every call made to an Engine object, with its arguments, by
 * wrapping its methods in place (the object stays the one the managers hold).
 * The fuzz tests check these against the typed allowlist: no user text reaches
 * the engine except through fields that were validated.
 */
import assert from 'node:assert/strict';
import type { Engine } from '../../src/engine/engine.js';
import { checkContainerName } from '../../src/names.js';

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

/** What may reach the engine from a user's command: dcm's own names, ids and validated values. */
const ENGINE_TEXT = /^[A-Za-z0-9._:/=@+,-]*$/;

/** Fails (naming `label`) when a call carries text outside ENGINE_TEXT or a container with an invalid hostname. */
export function assertEngineTyped(calls: EngineCall[], label: string): void {
  for (const c of calls) {
    for (const leaf of stringLeaves(c.args))
      assert.match(leaf.value, ENGINE_TEXT, `${label}: ${c.method} argument ${leaf.at} carries ${JSON.stringify(leaf.value)}`);
    if (c.method === 'createContainer') {
      const spec = c.args[0] as { hostname: string };
      assert.doesNotThrow(() => checkContainerName(spec.hostname), `${label}: hostname ${spec.hostname}`);
    }
  }
}
