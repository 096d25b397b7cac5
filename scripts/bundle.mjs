// Bundles each program (dcm, dcm-shell, dcm-server, admin tools) into one file
// under dist/bin/. A short-lived `dcm` or `dcm-shell` spends most of its start-up
// resolving and linking ~100 small modules; one file roughly halves that.
// Native and heavy optional pieces stay external and load from node_modules.
import { build } from 'esbuild';
import { existsSync, rmSync } from 'node:fs';

const entries = {
  dcm: 'dist/src/doors/dcm.js',
  'dcm-shell': 'dist/src/doors/dcm-shell.js',
  'dcm-server': 'dist/src/doors/dcm-server.js',
  'dcm-useradd': 'dist/admin/dcm-useradd.js',
  'dcm-userdel': 'dist/admin/dcm-userdel.js',
  'dcm-admin': 'dist/admin/dcm-admin.js',
};
/**
 * dockerode pulls in gRPC (BuildKit sessions) and docker-modem pulls in ssh2
 * (ssh:// engines) at load time; dcm uses neither — it talks to the local
 * socket — so for exactly those importers they become empty modules.
 */
const skipUnusedTransports = {
  name: 'skip-unused-docker-transports',
  setup(b) {
    b.onResolve({ filter: /^(@grpc\/.*|ssh2)$/ }, (args) => {
      const unused =
        (args.path.startsWith('@grpc/') && /dockerode[\\/]lib[\\/]session\.js$/.test(args.importer)) ||
        (args.path === 'ssh2' && /docker-modem[\\/]lib[\\/]ssh\.js$/.test(args.importer));
      return unused ? { path: args.path, namespace: 'unused' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'unused' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
  },
};

// Chunk names carry content hashes: clear the last build's so none go stale.
rmSync('dist/bin', { recursive: true, force: true });

const entryPoints = Object.fromEntries(Object.entries(entries).filter(([, f]) => existsSync(f)));

await build({
  entryPoints,
  outdir: 'dist/bin',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', 'ssh2', 'cpu-features', '@inquirer/prompts'],
  plugins: [skipUnusedTransports],
  // Bundled CommonJS code may call require(); give it one.
  banner: { js: "import { createRequire as __dcmCreateRequire } from 'node:module'; const require = __dcmCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
