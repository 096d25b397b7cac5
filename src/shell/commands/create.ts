import { DcmError } from '../../errors.js';
import { checkPort, clip } from '../../names.js';
import { list, str, type Command } from '../command.js';
import { containerJson, reachText } from '../render.js';

const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const GPU_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A preset or mount name: checked here so odd text never reaches the policy's error lines. */
export function policyName(text: string, what: string): string {
  if (!NAME_RE.test(text)) throw new DcmError('invalid', `invalid ${what} name "${clip(text)}" (see "whoami" for yours)`);
  return text;
}

/** `--mount NAME` or `--mount NAME:ro` (`:rw` only confirms a read-write mount). */
function parseMounts(words: string[]): { names: string[]; modes: Record<string, 'ro' | 'rw'> } {
  const names: string[] = [];
  const modes: Record<string, 'ro' | 'rw'> = {};
  for (const w of words) {
    const m = /^(.*?)(?::(ro|rw))?$/.exec(w)!;
    const name = policyName(m[1]!, 'mount');
    if (!names.includes(name)) names.push(name);
    if (m[2]) {
      if (modes[name] && modes[name] !== m[2]) throw new DcmError('invalid', `mount ${name} asked both read-only and read-write`);
      modes[name] = m[2] as 'ro' | 'rw';
    }
  }
  return { names, modes };
}

/** `--gpus N` takes any N free GPUs; `--gpus 0,3` or `--gpus device=3` takes those. */
export function parseGpus(text: string): { count: number } | { ids: string[] } {
  if (/^\d{1,4}$/.test(text)) return { count: Number(text) };
  const ids = text
    .replace(/^device=/, '')
    .split(',')
    .filter((s) => s !== '');
  if (!ids.length || !ids.every((i) => GPU_ID_RE.test(i)) || (!text.includes(',') && !text.startsWith('device='))) {
    throw new DcmError('invalid', `invalid --gpus "${clip(text)}": a count (2) or GPU ids (0,3 or device=3)`);
  }
  return { ids };
}

export const create: Command = {
  name: 'create',
  summary: 'create a container and print how to ssh into it',
  details: [
    'IMAGE is a base image (see "images") or one of your own; without it the default image is used.',
    "The SSH port printed is the container's id. Your storage is mounted at /root and /home/<you>.",
    'Presets, mounts and GPUs are what the administrator granted you: see "whoami" and "gpus".',
    '--mount NAME:ro mounts a read-write mount read-only (never the reverse); mounts the administrator marked',
    'default come without --mount, unless --no-default-mounts. --dry-run prints the Engine API request',
    'a create would send now (JSON) and makes nothing.',
  ].join('\n'),
  args: {
    positional: ['IMAGE?'],
    flags: {
      name: { type: 'string', value: 'NAME', help: 'a name to use instead of the id' },
      port: { type: 'list', short: 'p', value: 'PORT', help: 'publish this container port on the same host port (repeatable)' },
      preset: { type: 'string', value: 'NAME', help: 'one of your presets (more memory, GPUs, data...); presets do not combine' },
      mount: { type: 'list', value: 'NAME[:ro]', help: 'add a mount the administrator offers you, or make one read-only (repeatable)' },
      'no-default-mounts': { type: 'bool', help: 'leave out the mounts the administrator made default' },
      gpus: { type: 'string', value: 'N|IDS', help: 'reserve N GPUs, or the GPUs with these ids (0,3)' },
      'dry-run': { type: 'bool', help: 'print the Engine API request a create would send; make nothing' },
    },
  },
  async run(ctx, a) {
    const preset = str(a.flags.preset);
    const gpus = str(a.flags.gpus);
    const mounts = parseMounts(list(a.flags.mount));
    const req = {
      image: a.positional[0],
      name: str(a.flags.name),
      ports: list(a.flags.port).map((p) => checkPort(p)),
      ...(preset !== undefined ? { preset: policyName(preset, 'preset') } : {}),
      mounts: mounts.names,
      ...(Object.keys(mounts.modes).length ? { mountModes: mounts.modes } : {}),
      ...(a.flags['no-default-mounts'] ? { defaultMounts: false } : {}),
      ...(gpus !== undefined ? { gpus: parseGpus(gpus) } : {}),
    };
    if (a.flags['dry-run']) {
      const plan = await ctx.containers.planCreate(ctx.user, req);
      // The request alone on stdout, as JSON either way; what is not fixed yet goes to stderr as progress.
      for (const n of plan.notes) ctx.out.progress(`dry run: ${n}`);
      return { text: JSON.stringify(plan.request, null, 2), json: plan };
    }
    const c = await ctx.containers.create(ctx.user, req, (line) => ctx.out.progress(line));
    return { text: reachText(c, ctx.user.name), json: containerJson(c) };
  },
};
