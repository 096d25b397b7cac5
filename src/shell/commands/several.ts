/**
 * Commands that act on several containers (stop, start, rm, ...): every
 * reference is resolved among the caller's own containers before anything is
 * done, so one that is not theirs refuses the whole command; then each is
 * acted on in order. One container answers as before (its line, or its JSON
 * object); several answer one line each as they are done (a JSON list at
 * the end). A failure stops there and says which were left as they were.
 */
import type { ParsedArgs } from '../../args/parse.js';
import { DcmError } from '../../errors.js';
import type { ContainerView } from '../../manager/views.js';
import type { CommandContext, Output } from '../command.js';

export async function eachContainer(
  ctx: CommandContext,
  a: ParsedArgs,
  act: (ref: string) => Promise<ContainerView>,
  line: (c: ContainerView) => string,
  json: (c: ContainerView) => unknown,
): Promise<Output> {
  const refs = ctx.containers.resolveAll(ctx.user.name, a.positional);
  if (a.positional.length === 1) {
    const c = await act(a.positional[0]!);
    return { text: line(c), json: json(c) };
  }
  const done: ContainerView[] = [];
  for (const [i, ref] of refs.entries()) {
    let c: ContainerView;
    try {
      c = await act(ref);
    } catch (e) {
      const left = refs.slice(i + 1);
      if (!(e instanceof DcmError) || !left.length) throw e;
      throw new DcmError(e.code, `${e.userMessage} (left as they were: ${left.join(', ')})`, e.adminDetail, e.exitCode);
    }
    done.push(c);
    if (!a.flags.json) await ctx.out.write(`${line(c)}\n`);
  }
  return { text: '', json: done.map(json) };
}
