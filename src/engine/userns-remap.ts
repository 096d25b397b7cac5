/**
 * Working out an engine's user namespace mapping. `docker info` says only that
 * user namespaces are on (SecurityOptions "name=userns") and, through its data
 * directory "<data-root>/<uid>.<gid>", which host ids container root gets; the
 * rest of the mapping is the remap account's lines in /etc/subuid and
 * /etc/subgid, which dockerd reads the same way: the account's ranges in file
 * order, laid end to end from container id 0.
 */
import { readFileSync } from 'node:fs';
import { DcmError } from '../errors.js';
import type { IdRange, UsernsRemap } from './engine.js';

/** What dockerd maps when it has to assume (its own "default" account gets this much). */
const ASSUMED_SIZE = 65536;

/** The parts of `docker info` this needs. */
export interface InfoFacts {
  securityOptions: string[];
  dockerRootDir: string;
}

interface SubIdLine {
  name: string;
  start: number;
  size: number;
}

/** Lines "name:start:count" of a subuid/subgid file; anything else is skipped. */
function parseSubIds(text: string): SubIdLine[] {
  const out: SubIdLine[] = [];
  for (const raw of text.split('\n')) {
    const m = /^([^:#\s][^:]*):(\d+):(\d+)$/.exec(raw.trim());
    if (m) out.push({ name: m[1]!, start: Number(m[2]), size: Number(m[3]) });
  }
  return out;
}

/** The account whose first range starts at `base`, and its ranges laid end to end. */
function rangesFrom(lines: SubIdLine[], base: number): { user: string | null; ranges: IdRange[] } {
  const owner = lines.find((l) => l.start === base);
  if (!owner) return { user: null, ranges: [{ containerId: 0, hostId: base, size: ASSUMED_SIZE }] };
  const ranges: IdRange[] = [];
  let next = 0;
  for (const l of lines.filter((x) => x.name === owner.name)) {
    ranges.push({ containerId: next, hostId: l.start, size: l.size });
    next += l.size;
  }
  // dockerd puts the range that holds container root first; so must we.
  const first = ranges.findIndex((r) => r.hostId === base);
  if (first > 0) {
    const reordered = [ranges[first]!, ...ranges.filter((_, i) => i !== first)];
    let c = 0;
    for (const r of reordered) {
      r.containerId = c;
      c += r.size;
    }
    return { user: owner.name, ranges: reordered };
  }
  return { user: owner.name, ranges };
}

/** null without user namespaces; throws when they are on but the mapping cannot be told. */
export function remapFromFacts(facts: InfoFacts, subuid: string, subgid: string): UsernsRemap | null {
  if (!facts.securityOptions.some((o) => o.split(',').includes('name=userns'))) return null;
  const m = /\/(\d+)\.(\d+)\/?$/.exec(facts.dockerRootDir);
  if (!m) {
    throw new DcmError(
      'unavailable',
      'the container engine uses user namespaces, but dcm cannot tell its id mapping',
      `docker info: userns is on, but DockerRootDir ${facts.dockerRootDir} does not end in /<uid>.<gid>`,
    );
  }
  const uidBase = Number(m[1]);
  const gidBase = Number(m[2]);
  const u = rangesFrom(parseSubIds(subuid), uidBase);
  const g = rangesFrom(parseSubIds(subgid), gidBase);
  return { user: u.user ?? g.user, uidBase, gidBase, uids: u.ranges, gids: g.ranges };
}

const readOrEmpty = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

/** remapFromFacts with the host's /etc/subuid and /etc/subgid (the engine is local: it reads the same files). */
export function remapOfLocalEngine(facts: InfoFacts): UsernsRemap | null {
  return remapFromFacts(facts, readOrEmpty('/etc/subuid'), readOrEmpty('/etc/subgid'));
}
