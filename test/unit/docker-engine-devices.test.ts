/**
 * What the Docker adapter sends for GPUs, against a fake Docker API on a unix
 * socket: device nodes without the NVIDIA runtime, a device request with it;
 * the hardening is there either way. (No real NVIDIA runtime exists here.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerEngine } from '../../src/engine/docker-engine.js';
import type { ContainerSpec } from '../../src/engine/engine.js';
import { DcmError } from '../../src/errors.js';

async function fakeDocker(runtimes: string[]): Promise<{ socket: string; bodies: any[]; close: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'dcm-fake-docker-'));
  const socket = join(dir, 'docker.sock');
  const bodies: any[] = [];
  const server: Server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET' && req.url?.startsWith('/info')) {
        res.end(JSON.stringify({ Runtimes: Object.fromEntries(runtimes.map((r) => [r, { path: r }])) }));
      } else if (req.method === 'POST' && req.url?.startsWith('/containers/create')) {
        bodies.push(JSON.parse(data));
        res.statusCode = 201;
        res.end(JSON.stringify({ Id: 'f'.repeat(64), Warnings: [] }));
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ message: 'not here' }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return {
    socket,
    bodies,
    close: () => {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const spec: ContainerSpec = {
  name: 'x-1',
  hostname: 'h',
  image: 'sha256:' + 'a'.repeat(64),
  labels: {},
  entrypoint: ['/bin/sh'],
  cmd: [],
  env: {},
  network: 'dcm-test-net',
  mounts: [],
  publish: [],
  capAdd: ['CHOWN'],
  memoryBytes: 1 << 28,
  nanoCpus: 5e8,
  pidsLimit: 100,
  devices: [
    { hostPath: '/dev/nvidia2', containerPath: '/dev/nvidia2', gpuId: '2' },
    { hostPath: '/dev/nvidiactl', containerPath: '/dev/nvidiactl' },
  ],
};

test('without the NVIDIA runtime GPUs go as device nodes, rw without mknod', async () => {
  const d = await fakeDocker(['runc']);
  try {
    await new DockerEngine(d.socket).createContainer(spec);
    const hc = d.bodies[0].HostConfig;
    assert.deepEqual(hc.Devices, [
      { PathOnHost: '/dev/nvidia2', PathInContainer: '/dev/nvidia2', CgroupPermissions: 'rw' },
      { PathOnHost: '/dev/nvidiactl', PathInContainer: '/dev/nvidiactl', CgroupPermissions: 'rw' },
    ]);
    assert.equal(hc.DeviceRequests, undefined);
    assert.equal(hc.Runtime, undefined);
    assert.deepEqual(hc.CapDrop, ['ALL']);
    assert.deepEqual(hc.SecurityOpt, ['no-new-privileges:true']);
    assert.equal(hc.Privileged, false);
  } finally {
    d.close();
  }
});

test('with the NVIDIA runtime GPUs go as a device request; shared nodes stay nodes', async () => {
  const d = await fakeDocker(['runc', 'nvidia']);
  try {
    await new DockerEngine(d.socket).createContainer(spec);
    const hc = d.bodies[0].HostConfig;
    assert.equal(hc.Runtime, 'nvidia');
    assert.deepEqual(hc.DeviceRequests, [{ Driver: 'nvidia', DeviceIDs: ['2'], Capabilities: [['gpu']] }]);
    assert.deepEqual(hc.Devices, [{ PathOnHost: '/dev/nvidiactl', PathInContainer: '/dev/nvidiactl', CgroupPermissions: 'rw' }]);
    assert.deepEqual(hc.CapDrop, ['ALL']);
  } finally {
    d.close();
  }
});

test('no GPUs: no devices and no runtime question asked', async () => {
  const d = await fakeDocker(['nvidia']);
  try {
    await new DockerEngine(d.socket).createContainer({ ...spec, devices: [] });
    const hc = d.bodies[0].HostConfig;
    assert.deepEqual(hc.Devices, []);
    assert.equal(hc.Runtime, undefined);
  } finally {
    d.close();
  }
});

test("a spec without the user's network is refused before the engine is asked: never the default bridge", async () => {
  const d = await fakeDocker([]);
  try {
    const { network: _omit, ...noNetwork } = spec;
    await assert.rejects(
      new DockerEngine(d.socket).createContainer(noNetwork),
      (e: unknown) => e instanceof DcmError && e.userMessage === 'the container has no network of its own',
    );
    assert.equal(d.bodies.length, 0);
    await new DockerEngine(d.socket).createContainer({ ...spec, devices: [] });
    assert.equal(d.bodies[0].HostConfig.NetworkMode, 'dcm-test-net');
  } finally {
    d.close();
  }
});
