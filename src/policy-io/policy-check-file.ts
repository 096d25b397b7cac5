// Lives in policy-io, not policy: it reads the file, and policy/ stays pure.
/** `dcm-admin policy check FILE`: reads the file, then runs the pure checks on its text. */
import { readConfigText } from '../config-file.js';
import { DcmError } from '../errors.js';
import { checkPolicyText, policyError, POLICY_CHECKERS, type PolicyCheckResult, type PolicyChecker } from '../policy/policy-check.js';

export async function checkPolicyFile(
  file: string,
  stateDir: string,
  checkers: PolicyChecker[] = POLICY_CHECKERS,
): Promise<PolicyCheckResult> {
  let text: string;
  try {
    text = readConfigText(file);
  } catch (e) {
    // readConfigText's lines start with the file name; the finding carries the rest.
    const msg = e instanceof DcmError ? e.userMessage.replace(`${file}: `, '') : String(e);
    return { file, findings: [policyError(null, msg)], config: null };
  }
  return checkPolicyText(text, file, stateDir, checkers);
}
