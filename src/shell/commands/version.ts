import { versionReport, versionText } from '../../version.js';
import type { Command } from '../command.js';

export const version: Command = {
  name: 'version',
  summary: "print dcm's version and the container engine's",
  details: 'When the engine does not answer, the second line says so (exit code 0: dcm itself answered).',
  args: { positional: [], flags: {} },
  async run(ctx) {
    const r = await versionReport(() => ctx.containers.engineVersion());
    return { text: versionText(r), json: r };
  },
};
