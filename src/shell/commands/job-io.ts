/** A command's context as the manager's JobIo: the caller's terminal, input and output for an attached job or exec. */
import type { JobIo } from '../../manager/jobs.js';
import type { CommandContext } from '../command.js';

export function jobIo(ctx: CommandContext): JobIo {
  const { input } = ctx;
  return {
    output: (data, to) => ctx.out.raw(data, to),
    terminal: input.terminal,
    ...(input.open ? { openInput: input.open.bind(input) } : {}),
    ...(input.onResize ? { onResize: input.onResize.bind(input) } : {}),
    signal: ctx.signal,
  };
}
