/**
 * The restart policy every container dcm makes carries: `unless-stopped`.
 *
 * What the user last did decides, and the engine keeps it without dcm
 * running: a container that was running (or paused) when the engine or the
 * host went down is started again when the engine comes back, on the same
 * published ports and with its own filesystem (so its sshd host key); one the
 * user stopped — dcm's stop is an API stop, as is `docker kill` — stays
 * stopped. The engine also starts a container again whose sshd (its PID 1)
 * exited on its own, e.g. killed for lack of memory. A paused container comes
 * back running: the engine cannot keep processes frozen across its own restart.
 */
export const RESTART_POLICY = 'unless-stopped';
