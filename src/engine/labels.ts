/**
 * Labels and names of every Docker object dcm makes. The database decides
 * ownership; labels only let reconcile find objects a crash left without a
 * row, tell this installation's objects from another's on the same engine,
 * and record how a container was made for what is shown about it.
 */
import { RESTART_POLICY } from './restart-policy.js';

export const LABEL_MANAGED = 'dcm.managed';
export const LABEL_OWNER = 'dcm.owner';
export const LABEL_ID = 'dcm.id';
/** The configured `instance` name (also set by tests and benches to clean up what they made). */
export const LABEL_INSTANCE = 'dcm.instance';
/**
 * The installation's id from its database. Two installations may share an
 * engine and even an instance name; this label is what tells them apart.
 * Objects made before installations had ids lack it ("legacy" objects).
 */
const LABEL_INSTALLATION = 'dcm.installation';
/**
 * "yes" or "no": whether the container's sshd lets root log in (`user: host` says no).
 * Always set, so a label inherited from a committed image never speaks for a new container.
 */
export const LABEL_ROOT_LOGIN = 'dcm.root-login';

/**
 * The restart policy the container was made with (restart-policy.ts).
 * Containers made before dcm set one lack it, and reconcile gives them the policy.
 */
export const LABEL_RESTART = 'dcm.restart';

/** "1" on a batch job's container (`run`): it runs the user's command, not sshd. */
export const LABEL_JOB = 'dcm.job';

/** How many characters of the installation id go into Docker names. */
const SHORT_ID = 8;

function common(owner: string, instanceLabel: string, installationId: string): Record<string, string> {
  return { [LABEL_MANAGED]: '1', [LABEL_OWNER]: owner, [LABEL_INSTANCE]: instanceLabel, [LABEL_INSTALLATION]: installationId };
}

export function containerLabels(owner: string, id: number, instanceLabel: string, installationId: string): Record<string, string> {
  return { ...common(owner, instanceLabel, installationId), [LABEL_ID]: String(id), [LABEL_RESTART]: RESTART_POLICY };
}

export function imageLabels(owner: string, instanceLabel: string, installationId: string): Record<string, string> {
  return common(owner, instanceLabel, installationId);
}

/**
 * Prefix of every Docker name this installation gives: `<instance>-<first 8 of
 * the installation id>`. Two installations with the same instance name (and
 * overlapping port ranges on different addresses) never ask for the same name.
 */
export function namePrefix(instanceLabel: string, installationId: string): string {
  return `${instanceLabel}-${installationId.slice(0, SHORT_ID)}`;
}

/** A container's Docker name: `<instance>-<short installation id>-<ssh port>`. */
export function containerName(instanceLabel: string, installationId: string, id: number): string {
  return `${namePrefix(instanceLabel, installationId)}-${id}`;
}

/** Engine filter for this installation's objects (every object made since installations have ids). */
export function installationFilter(installationId: string): string[] {
  return [`${LABEL_MANAGED}=1`, `${LABEL_INSTALLATION}=${installationId}`];
}

/**
 * Whose object this is, from its labels:
 * - `ours`: labelled with this installation's id;
 * - `legacy`: dcm-managed, this instance name, but no installation label
 *   (made before installations had ids — by this installation or another
 *   with the same instance name; only the database can tell which);
 * - `foreign`: anything else.
 */
export type Provenance = 'ours' | 'legacy' | 'foreign';

export function provenance(labels: Record<string, string>, instanceLabel: string, installationId: string): Provenance {
  if (labels[LABEL_MANAGED] !== '1') return 'foreign';
  const inst = labels[LABEL_INSTALLATION];
  if (inst !== undefined) return inst === installationId ? 'ours' : 'foreign';
  return labels[LABEL_INSTANCE] === instanceLabel ? 'legacy' : 'foreign';
}

/** On a user's network: the random token of its database row, so dcm only ever adopts its own. */
export const LABEL_NETWORK = 'dcm.network';

/** Labels for a network made for one user: those of containers and images, plus its row's token. */
export function networkLabels(owner: string, token: string, instanceLabel: string, installationId: string): Record<string, string> {
  return { ...common(owner, instanceLabel, installationId), [LABEL_NETWORK]: token };
}
