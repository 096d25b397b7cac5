/** Plain data shapes that commands render as text or JSON. */
import type { EndFacts, ShownState } from './container-state.js';

export interface PortView {
  container: number;
  host: number;
  ip: string;
}

export interface ContainerView {
  id: number;
  name: string | null;
  image: string;
  /** 'gone' when the row's container was removed from the engine outside dcm. */
  state: ShownState;
  /** The engine's words for the state ("Up 5 minutes", "exited"), or what to do about a gone one. */
  status: string;
  /** How it last ended, when the engine was asked about this container (null otherwise). */
  end: EndFacts | null;
  host: string;
  ip: string;
  sshPort: number;
  /** Whether root may log in over SSH (false under `user: host`): which `ssh -p` lines to print. */
  rootLogin: boolean;
  ports: PortView[];
  createdAt: string;
  /** A batch job (`run`): its command as given ([] for the image's own) and how it runs; null for a container with sshd. */
  job: { command: string[]; tty: boolean; stdin: boolean; root: boolean; rm: boolean } | null;
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
