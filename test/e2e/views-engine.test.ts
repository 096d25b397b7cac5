/**
 * What users see, on the real engine: a container's state and status are
 * Docker's own words; under `user: host` create and show print only the
 * user's own ssh line (the container itself says root may not log in); sizes
 * are shown in the binary units the configuration is written in.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv, BASE_IMAGE, dockerInspect, run } from '../helpers/env.js';
import { formatSize } from '../../src/sizes.js';

const env = new TestEnv({
  tag: 'views',
  sshPorts: '33400-33419',
  extraYaml: ['defaults:', '  limits: { memory: 256m, cpus: 0.5, total_memory: 1.5g }', 'groups:', '  hosted: { user: host }', ''].join(
    '\n',
  ),
});

before(async () => {
  await env.registerBase();
});
after(() => env.cleanup());

test('create and show report the state and status Docker gives, not an invented "Up"', async () => {
  await env.addUser('vera');
  const made = await env.dcmJson<{ id: number; state: string; status: string }>('vera', 'create', '--name', 'st');
  const docker = await dockerInspect(env.dockerName(made.id));
  assert.equal(made.state, docker.State.Status);
  assert.equal(made.status, docker.State.Status, 'create shows what inspect says');
  // The list comes from `docker ps`, whose status is a sentence ("Up 2 seconds").
  const ps = await run('docker', ['ps', '-a', '--filter', `name=^${env.dockerName(made.id)}$`, '--format', '{{.Status}}']);
  const [listed] = await env.dcmJson<{ status: string }[]>('vera', 'show');
  assert.match(listed!.status, /^Up (Less than a second|\d+ seconds?|About a minute|\d+ minutes?)$/);
  assert.equal(listed!.status.split(' ')[0], ps.stdout.trim().split(' ')[0]);
  assert.equal((await env.dcm('vera', 'stop', 'st')).code, 0);
  const stopped = await env.dcmJson<{ state: string; status: string }>('vera', 'show', 'st');
  assert.deepEqual([stopped.state, stopped.status], ['exited', 'exited']);
  const [again] = await env.dcmJson<{ state: string; status: string }[]>('vera', 'show');
  assert.match(again!.status, /^Exited \(\d+\) /);
});

test("under user: host, create and show print only the user's own ssh line, as the container was made (no root login)", async () => {
  await env.addUser('hana', '--group', 'hosted');
  const made = await env.dcm('hana', 'create', '--name', 'lab');
  assert.equal(made.code, 0, made.stderr);
  const id = Number(/^container (\d+) /.exec(made.stdout)![1]);
  assert.equal(made.stdout, `container ${id} (lab) from ${BASE_IMAGE} is running\n  ssh -p ${id} hana@127.0.0.1\n`);
  const shown = await env.dcm('hana', 'show', 'lab');
  assert.equal(shown.stdout, made.stdout);
  const docker = await dockerInspect(env.dockerName(id));
  assert.equal(docker.Config.Labels['dcm.root-login'], 'no');
  assert.ok((docker.Config.Env as string[]).includes('DCM_ROOT_LOGIN=no'));
});

test('whoami and images show sizes as the configuration writes them; --json gives bytes', async () => {
  await env.addUser('sam');
  const who = await env.dcm('sam', 'whoami');
  const lines = who.stdout.split('\n');
  assert.equal(
    lines.find((l) => l.startsWith('limits ')),
    'limits     memory 256m, 0.5 CPUs, 1024 processes per container',
  );
  assert.equal(
    lines.find((l) => l.startsWith('totals ')),
    'totals     memory 0 of 1.5g, 0 of no limit CPUs',
  );
  const whoJson = await env.dcmJson<{ limits: { memoryBytes: number; totalMemoryBytes: number } }>('sam', 'whoami');
  assert.deepEqual([whoJson.limits.memoryBytes, whoJson.limits.totalMemoryBytes], [256 * 1024 ** 2, 1.5 * 1024 ** 3]);
  const size = (await dockerInspect(BASE_IMAGE)).Size as number;
  const images = await env.dcm('sam', 'images');
  const row = images.stdout.split('\n').find((l) => l.startsWith(`${BASE_IMAGE} `))!;
  assert.equal(row.split(/ +/)[2], formatSize(size));
  assert.match(formatSize(size), /^\d+(\.\d+)?m$/, 'the base image is some MiB');
  const [img] = await env.dcmJson<{ sizeBytes: number }[]>('sam', 'images');
  assert.equal(img!.sizeBytes, size);
});
