/**
 * `dcm-admin policy check`: every problem in a configuration, not only the
 * first. YAML syntax and the schema (with its cross-references) come first;
 * once the text is valid, each checker in POLICY_CHECKERS looks at the
 * resolved configuration and adds errors (the file must not be used) or
 * warnings (allowed, but the admin should know). A checker is a function of
 * the configuration, so a new rule is one function added to the list.
 * Reading the file is policy-io/policy-check-file.ts's job: this one is pure.
 */
import { configIssues, parseConfigText, resolveConfig, type Config } from '../config.js';
import { rwMountWarnings } from './rw-mount-warnings.js';

/** One problem found in the file; `field` is the dotted path, or null for the file as a whole. */
export interface PolicyFinding {
  level: 'error' | 'warning';
  field: string | null;
  message: string;
}

/** A rule over a valid configuration. */
export type PolicyChecker = (config: Config) => PolicyFinding[] | Promise<PolicyFinding[]>;

/** Rules run on every valid file, in order. */
export const POLICY_CHECKERS: PolicyChecker[] = [rwMountWarnings];

export interface PolicyCheckResult {
  file: string;
  findings: PolicyFinding[];
  /** The resolved configuration, when the file has no structural error. */
  config: Config | null;
}

export const policyError = (field: string | null, message: string): PolicyFinding => ({ level: 'error', field, message });

/** Checks configuration text already read from `file` (named in findings and in the resolved config). */
export async function checkPolicyText(
  text: string,
  file: string,
  stateDir: string,
  checkers: PolicyChecker[] = POLICY_CHECKERS,
): Promise<PolicyCheckResult> {
  const doc = parseConfigText(text);
  if (doc.errors.length) return { file, findings: doc.errors.map((m) => policyError(null, m)), config: null };
  const issues = configIssues(doc.raw);
  if (issues.length) return { file, findings: issues.map((i) => policyError(i.field, i.message)), config: null };
  const config = resolveConfig(doc.raw, stateDir, file);
  const findings: PolicyFinding[] = [];
  for (const check of checkers) findings.push(...(await check(config)));
  return { file, findings, config };
}

/** One line per finding: "FILE: field: message", warnings marked as such. */
export function findingLine(file: string, f: PolicyFinding): string {
  return `${file}: ${f.level === 'warning' ? 'warning: ' : ''}${f.field === null ? '' : `${f.field}: `}${f.message}`;
}
