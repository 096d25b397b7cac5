/**
 * The GPU variables dcm sets in every container, over whatever the image or
 * the admin's `env` say. On a host whose default runtime is NVIDIA's, the
 * runtime exposes the GPUs NVIDIA_VISIBLE_DEVICES names, and CUDA images ship
 * with NVIDIA_VISIBLE_DEVICES=all: without this, a container that reserved no
 * GPU would see every GPU on the host, including other users' reserved ones.
 * "void" means no GPU and no driver libraries (the runtime acts as runc);
 * otherwise exactly the reserved ids, as the inventory names them (indexes or
 * GPU-… UUIDs), the same ids the device request carries.
 */
const GPU_ENV_NAMES = ['NVIDIA_VISIBLE_DEVICES'] as const;

export function gpuEnv(gpuIds: string[]): Record<(typeof GPU_ENV_NAMES)[number], string> {
  return { NVIDIA_VISIBLE_DEVICES: gpuIds.length ? gpuIds.join(',') : 'void' };
}
