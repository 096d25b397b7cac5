/**
 * A big installation made directly, for measuring `show` at scale: USERS
 * users with PER_USER containers each, rows written through the store's
 * repositories and the containers put straight into the fake engine with the
 * labels dcm gives them. No create runs: the point is the size of the tables
 * and of the engine's answer, not how they got there.
 */
import { resolveConfig, type Config } from '../../src/config.js';
import { containerLabels } from '../../src/engine/labels.js';
import type { ContainerSpec } from '../../src/engine/engine.js';
import type { Deps } from '../../src/manager/deps.js';
import { Store } from '../../src/store/store.js';
import { FakeEngine } from './fake-engine.js';

export interface ScaleInstall {
  deps: Deps;
  store: Store;
  engine: FakeEngine;
  config: Config;
  users: string[];
}

/** The user names made: u0000, u0001, ... */
export const scaleUser = (i: number) => `u${String(i).padStart(4, '0')}`;

export function makeScaleInstall(dir: string, users: number, perUser: number): ScaleInstall {
  const first = 20000;
  const config = resolveConfig(
    {
      instance: 'scale',
      network: { ssh_ports: `${first}-${first + users * perUser + 99}`, ip_aliases: ['127.0.0.1'] },
      // Every user's show is timed many times here: the rate is not what is measured.
      server: { commands_per_minute: 1_000_000, command_burst: 1_000_000 },
    },
    dir,
    null,
  );
  const store = Store.open(config.dbFile);
  const engine = new FakeEngine();
  const image = 'dcm/debian-base:bookworm';
  const imageId = engine.addImage(image);
  const installation = store.installation.id;
  const names: string[] = [];
  store.tx(() => {
    store.images.insert({ ref: image, docker_id: imageId, owner: null, source: null });
    for (let u = 0; u < users; u++) {
      const name = scaleUser(u);
      names.push(name);
      store.users.insert({ name, uid: 200000 + u, gid: 200000 + u });
      for (let k = 0; k < perUser; k++) {
        const id = first + u * perUser + k;
        const dockerId = id.toString(16).padStart(64, 'c');
        store.containers.insert({
          id,
          owner: name,
          name: `box${k}`,
          image_ref: image,
          image_id: imageId,
          ip: '127.0.0.1',
          instance: 'scale',
        });
        store.containers.setDockerId(id, dockerId);
        store.containers.setState(id, 'created');
        store.containers.addPort({ ip: '127.0.0.1', port: id, container_id: id, container_port: 22, kind: 'ssh' });
        const labels = containerLabels(name, id, config.instance, installation);
        engine.containers.set(dockerId, { spec: { labels } as ContainerSpec, state: k % 3 ? 'running' : 'exited' });
      }
    }
  });
  const deps: Deps = { store, engine, config, net: { isPortFree: async () => true, waitForSsh: async () => true } };
  return { deps, store, engine, config, users: names };
}
