/** Plain data shapes that commands render as text or JSON. */
import type { RunState } from '../engine/engine.js';

export interface PortView {
  container: number;
  host: number;
  ip: string;
}

export interface ContainerView {
  id: number;
  name: string | null;
  image: string;
  state: RunState | 'missing' | 'creating' | 'removing';
  status: string;
  host: string;
  ip: string;
  sshPort: number;
  /** Whether root may log in over SSH (false under `user: host`): which `ssh -p` lines to print. */
  rootLogin: boolean;
  ports: PortView[];
  createdAt: string;
}

export interface ImageView {
  ref: string;
  /** The short name a user types: the base ref, or NAME:TAG for their own images. */
  name: string;
  kind: 'base' | 'own';
  id: string;
  sizeBytes: number | null;
  createdAt: string;
  inUseBy: number[];
}
