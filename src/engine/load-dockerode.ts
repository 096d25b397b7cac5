/**
 * Loads dockerode without the two subsystems dcm never uses but which cost
 * ~110 ms at every start of a short-lived `dcm`/`dcm-shell` process:
 * gRPC (dockerode's BuildKit session support) and ssh2 (docker-modem's
 * ssh:// transport — dcm only talks to the local socket). Both are replaced by
 * empty modules for exactly those two importers while dockerode is required;
 * everything else, including ssh2 for dcm's own SSH server, loads normally.
 * Measured by bench/create-ready; covered by every engine test.
 */
import { createRequire } from 'node:module';
import type DockerodeType from 'dockerode';

type Loader = (request: string, parent: { filename?: string } | undefined, isMain: boolean) => unknown;

const require = createRequire(import.meta.url);

function skipped(request: string, parentFile: string): boolean {
  if (request.startsWith('@grpc/') && /[/\\]dockerode[/\\]lib[/\\]session\.js$/.test(parentFile)) return true;
  return request === 'ssh2' && /[/\\]docker-modem[/\\]lib[/\\]ssh\.js$/.test(parentFile);
}

let cached: typeof DockerodeType | undefined;

export function loadDockerode(): typeof DockerodeType {
  if (cached) return cached;
  const Module = require('node:module') as { _load: Loader };
  const original = Module._load;
  Module._load = function (request, parent, isMain) {
    if (parent?.filename && skipped(request, parent.filename)) return {};
    return original.call(this, request, parent, isMain);
  };
  try {
    cached = require('dockerode') as typeof DockerodeType;
  } finally {
    Module._load = original;
  }
  return cached;
}
