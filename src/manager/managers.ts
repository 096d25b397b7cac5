/** The managers a command or an admin tool works through; src/main.ts builds them, once per app. */
import type { ContainerManager } from './container-manager.js';
import type { ImageManager } from './image-manager.js';
import type { UserManager } from './user-manager.js';

export interface Managers {
  containers: ContainerManager;
  images: ImageManager;
  users: UserManager;
}
