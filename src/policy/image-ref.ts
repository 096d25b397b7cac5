/**
 * Normalising image references the way Docker does, so an admin's regular
 * expressions see one spelling: `debian` = `docker.io/library/debian:latest`,
 * `dcm/debian-base:bookworm` = `docker.io/dcm/debian-base:bookworm`. Rules are
 * matched in full against the normalised form and against the familiar form
 * (`debian:latest`, `dcm/debian-base:bookworm`), so `^dcm/.*$` works as an
 * admin would expect. Pure.
 */

/** The full reference: registry/path:tag (a digest is kept as is). */
export function normaliseForPolicy(ref: string): string {
  const slash = ref.indexOf('/');
  const first = slash < 0 ? '' : ref.slice(0, slash);
  // Docker's rule: the first component is a registry only if it has a dot or a port, or is localhost.
  const hasRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let full = hasRegistry ? ref : slash < 0 ? `docker.io/library/${ref}` : `docker.io/${ref}`;
  const lastSlash = full.lastIndexOf('/');
  if (!full.includes('@') && full.indexOf(':', lastSlash + 1) < 0) full += ':latest';
  return full;
}

/** The short form Docker prints: without docker.io/ and library/. */
export function familiarForm(full: string): string {
  return full.replace(/^docker\.io\/(library\/)?/, '');
}

/** True when `pattern` matches the whole normalised or familiar reference. */
export function matchesRef(pattern: string, ref: string): boolean {
  const re = new RegExp(`^(?:${pattern})$`);
  const full = normaliseForPolicy(ref);
  return re.test(full) || re.test(familiarForm(full));
}
