/** dcm-userdel NAME [--keep-images] [--keep-storage] */
import type { NetworkRemoval } from '../../src/manager/user-network.js';
import type { AdminTool } from './admin-cli.js';

function networkLine(n: NetworkRemoval | null): string {
  if (!n) return 'none';
  if (n.removed) return `removed ${n.name}`;
  return `NOT removed: ${n.name}: ${n.error ?? 'refused by the engine'} (detach what is still attached, then docker network rm ${n.name})`;
}

export const userdel: AdminTool = {
  name: 'dcm-userdel',
  summary: 'Delete a dcm user with their containers, port allocations, network, images and storage.',
  details: [
    'The user is blocked first (no commands, no dcm-server logins); creates in flight are waited for;',
    'storage is removed without following links or entering other filesystems. If anything stops it,',
    'the user stays blocked: run dcm-userdel again to finish (if its process died, reconcile finishes it).',
  ].join('\n'),
  args: {
    positional: ['NAME'],
    flags: {
      'keep-images': {
        type: 'bool',
        help: "leave the user's images in the engine: no user can use them any more, reconcile (and every dcm-server start) leaves them; remove them with docker rmi",
      },
      'keep-storage': { type: 'bool', help: 'leave the storage directories on disk' },
    },
  },
  async run(app, a) {
    const r = await app.users.del(a.positional[0]!, {
      keepImages: a.flags['keep-images'] === true,
      keepStorage: a.flags['keep-storage'] === true,
    });
    const text = [
      `deleted ${r.user}`,
      `  containers removed: ${r.containers.join(', ') || 'none'}`,
      `  images removed: ${r.images.join(', ') || 'none'}`,
      ...(r.keptImages.length ? [`  images kept in the engine: ${r.keptImages.join(', ')}`] : []),
      `  storage: ${r.storage ? `removed ${r.storage}` : 'kept'}`,
      `  network: ${networkLine(r.network)}`,
    ].join('\n');
    return { text, json: r };
  },
};
