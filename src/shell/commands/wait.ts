/** `wait`: the exit code of a job (any container) once it has ended, printed and given as dcm's own exit code. */
import type { Command } from '../command.js';

export const wait: Command = {
  name: 'wait',
  summary: 'wait until a container has ended; print its exit code and exit with it',
  details: 'Returns at once for one that has already ended. Ctrl-C stops waiting; the job goes on.',
  args: { positional: ['CONTAINER'], flags: {} },
  async run(ctx, a) {
    const ref = a.positional[0]!;
    const code = await ctx.containers.wait(ctx.user.name, ref, ctx.signal);
    return { text: String(code), json: { container: ref, exitCode: code }, code };
  },
};
