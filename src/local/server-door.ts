/**
 * A door's way to dcm-server in one call: choose the socket this account may
 * use (socket-choice.ts), send the command and hand on its output as it comes
 * (command-client.ts), and when nothing was sent, say why, so that the door
 * runs the command itself and words any refusal by what really happened.
 */
import { askServer, type AskOptions, type Forwardable } from './command-client.js';
import type { DoorFacts } from './command-protocol.js';
import type { CommandOutput } from '../shell/command-output.js';
import { socketChoice, type NoServer } from './socket-choice.js';

export async function viaServer(
  stateDir: string,
  facts: DoorFacts,
  what: Forwardable,
  output: CommandOutput,
  o?: AskOptions,
): Promise<{ code: number } | { why: NoServer }> {
  const choice = socketChoice(stateDir, facts.euid);
  if ('why' in choice) return choice;
  const r = await askServer(choice.path, facts, what, output, o);
  return 'unsent' in r ? { why: r.unsent } : r;
}
