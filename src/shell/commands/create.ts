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
  ].join('\n'),
  args: {
    positional: ['IMAGE?'],
    flags: {
      name: { type: 'string', value: 'NAME', help: 'a name to use instead of the id' },
      port: { type: 'list', short: 'p', value: 'PORT', help: 'publish this container port on the same host port (repeatable)' },
      preset: { type: 'string', value: 'NAME', help: 'one of your presets (more memory, GPUs, data...); presets do not combine' },
      mount: { type: 'list', value: 'NAME', help: 'add a mount the administrator offers you (repeatable)' },
      gpus: { type: 'string', value: 'N|IDS', help: 'reserve N GPUs, or the GPUs with these ids (0,3)' },
    },
  },
  async run(ctx, a) {
    const preset = str(a.flags.preset);
    const gpus = str(a.flags.gpus);
    const c = await ctx.containers.create(
      ctx.user,
      {
        image: a.positional[0],
        name: str(a.flags.name),
        ports: list(a.flags.port).map((p) => checkPort(p)),
        ...(preset !== undefined ? { preset: policyName(preset, 'preset') } : {}),
        mounts: list(a.flags.mount).map((m) => policyName(m, 'mount')),
        ...(gpus !== undefined ? { gpus: parseGpus(gpus) } : {}),
      },
      (line) => ctx.out.progress(line),
    );
    return { text: reachText(c, ctx.user.name), json: containerJson(c) };
  },
};
