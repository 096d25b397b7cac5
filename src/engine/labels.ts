/**
 * Labels on every Docker object dcm makes. The database decides ownership;
 * labels only let reconcile find objects a crash left without a row.
 */
export const LABEL_MANAGED = 'dcm.managed';
export const LABEL_OWNER = 'dcm.owner';
export const LABEL_ID = 'dcm.id';
/** Set by tests and benches so that they clean up only what they made. */
export const LABEL_INSTANCE = 'dcm.instance';

export function containerLabels(owner: string, id: number, instanceLabel?: string): Record<string, string> {
  const l: Record<string, string> = { [LABEL_MANAGED]: '1', [LABEL_OWNER]: owner, [LABEL_ID]: String(id) };
  if (instanceLabel) l[LABEL_INSTANCE] = instanceLabel;
  return l;
}

export function imageLabels(owner: string, instanceLabel?: string): Record<string, string> {
  const l: Record<string, string> = { [LABEL_MANAGED]: '1', [LABEL_OWNER]: owner };
  if (instanceLabel) l[LABEL_INSTANCE] = instanceLabel;
  return l;
}

/** On a user's network: the random token of its database row, so dcm only ever adopts its own. */
export const LABEL_NETWORK = 'dcm.network';

export function networkLabels(owner: string, token: string, instanceLabel?: string): Record<string, string> {
  const l: Record<string, string> = { [LABEL_MANAGED]: '1', [LABEL_OWNER]: owner, [LABEL_NETWORK]: token };
  if (instanceLabel) l[LABEL_INSTANCE] = instanceLabel;
  return l;
}
