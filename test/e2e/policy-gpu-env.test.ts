/**
 * NVIDIA_VISIBLE_DEVICES is dcm's, not the image's: on a host whose default
 * runtime is NVIDIA's, an image carrying NVIDIA_VISIBLE_DEVICES=all (as CUDA
 * images do) would see every GPU without reserving any. A container without
 * GPUs gets "void" (no GPU, no driver); one with GPUs exactly its reserved
 * ids. Checked on the real engine with an image the test commits (ENV =all,
 * removed after) and fake GPU device nodes (mknod in a temp dir).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { TestEnv, BASE_IMAGE, dockerInspect, run } from '../helpers/env.js';
import { tempDir } from '../helpers/tmp.js';

const dev = tempDir('dcm-gpu-env-');
const node = (n: string) => join(dev, n);
const env = new TestEnv({
  tag: 'polgenv',
  sshPorts: '32120-32139',
  extraYaml: `
gpus:
  inventory:
    - { id: "0", devices: [${node('nvidia0')}] }
    - { id: "1", devices: [${node('nvidia1')}] }
defaults:
  limits: { memory: 128m, cpus: 0.25 }
  gpus: { max: 1 }
  env: { TZ: UTC }
`,
});
const IMAGE = `dcm/${env.instance}-cuda-like:all`;

before(async () => {
  for (const n of ['nvidia0', 'nvidia1']) {
    // Char devices 1:3 (like /dev/null): harmless stand-ins for GPU nodes.
    const r = await run('mknod', ['-m', '0666', node(n), 'c', '1', '3']);
    assert.equal(r.code, 0, r.stderr);
  }
  // An image that asks for every GPU, as CUDA base images do.
  const c = await run('docker', ['create', '--label', `dcmtest.gpu-env=${env.instance}`, BASE_IMAGE, 'true']);
  assert.equal(c.code, 0, c.stderr);
  const id = c.stdout.trim();
  const m = await run('docker', [
    'commit',
    '--change',
    'ENV NVIDIA_VISIBLE_DEVICES=all',
    '--change',
    `LABEL dcmtest.gpu-env=${env.instance}`,
    id,
    IMAGE,
  ]);
  await run('docker', ['rm', id]);
  assert.equal(m.code, 0, m.stderr);
  await env.registerBase(IMAGE);
  await env.addUser('alice');
});
after(async () => {
  await env.cleanup();
  await run('docker', ['rmi', IMAGE]);
});

/** The variable as Docker stores it and as the container's processes see it. */
async function visibleDevices(containerId: number): Promise<{ inspect: string[]; inside: string[] }> {
  const name = env.dockerName(containerId);
  const i = await dockerInspect(name);
  const inspect = (i.Config.Env as string[]).filter((e) => e.startsWith('NVIDIA_VISIBLE_DEVICES='));
  const e = await run('docker', ['exec', name, 'env']);
  assert.equal(e.code, 0, e.stderr);
  const inside = e.stdout.split('\n').filter((l) => l.startsWith('NVIDIA_VISIBLE_DEVICES='));
  return { inspect, inside };
}

test("an image's NVIDIA_VISIBLE_DEVICES=all does not reach a container without GPUs: it gets void", { timeout: 120_000 }, async () => {
  const c = await env.dcmJson('alice', 'create', IMAGE);
  const v = await visibleDevices(c.id);
  assert.deepEqual(v.inspect, ['NVIDIA_VISIBLE_DEVICES=void']);
  assert.deepEqual(v.inside, ['NVIDIA_VISIBLE_DEVICES=void']);
  await env.dcmJson('alice', 'rm', '-f', String(c.id));
});

test('a container with a reserved GPU sees exactly that id, whatever the image says', { timeout: 120_000 }, async () => {
  const c = await env.dcmJson('alice', 'create', IMAGE, '--gpus', 'device=1');
  const v = await visibleDevices(c.id);
  assert.deepEqual(v.inspect, ['NVIDIA_VISIBLE_DEVICES=1']);
  assert.deepEqual(v.inside, ['NVIDIA_VISIBLE_DEVICES=1']);
  const i = await dockerInspect(env.dockerName(c.id));
  assert.deepEqual(
    i.HostConfig.Devices.map((d: { PathOnHost: string }) => d.PathOnHost),
    [node('nvidia1')],
  );
  await env.dcmJson('alice', 'rm', '-f', String(c.id));
});

test("the admin's env cannot set NVIDIA_VISIBLE_DEVICES either: the file is refused with one line", async () => {
  const bad = join(env.stateDir, 'nvidia-env.yaml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(bad, 'defaults:\n  env: { NVIDIA_VISIBLE_DEVICES: all }\n');
  const r = await env.tool('admin', 'policy', 'check', bad);
  assert.equal(r.code, 7);
  assert.equal(
    r.stderr,
    `dcm-admin policy check: ${bad}: defaults.env.NVIDIA_VISIBLE_DEVICES: NVIDIA_VISIBLE_DEVICES is set by dcm to the GPUs a container reserved\n`,
  );
});
