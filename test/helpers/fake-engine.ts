/**
 * An in-memory Engine for fast unit tests of the managers' logic (sagas,
 * ownership, rollbacks). Never the only proof: the e2e tests use real Docker.
 */
import type {
  ContainerSpec,
  ContainerStatus,
  Engine,
  EngineInfo,
  EngineRequest,
  EngineVersion,
  ImageStatus,
  NetworkSpec,
  NetworkStatus,
  RunState,
  StdioStream,
  TtySize,
  ExecSpec,
  UsernsRemap,
} from '../../src/engine/engine.js';
import { overlaps, parseCidr } from '../../src/net/user-subnets.js';
import { DcmError } from '../../src/errors.js';

export class FakeEngine implements Engine {
  containers = new Map<string, { spec: ContainerSpec; state: RunState }>();
  images = new Map<string, ImageStatus>();
  networks = new Map<string, NetworkStatus>();
  /** Method names that should throw on their next call. */
  failNext = new Set<string>();
  /** What info() reports: set it to play an engine started with userns-remap. */
  usernsRemap: UsernsRemap | null = null;
  private n = 0;

  addImage(ref: string): string {
    const id = `sha256:${String(++this.n).padStart(64, '0')}`;
    this.images.set(id, { id, tags: [ref], sizeBytes: 1000, created: new Date().toISOString(), labels: {} });
    return id;
  }

  private maybeFail(name: string): void {
    if (this.failNext.delete(name)) throw new DcmError('internal', `${name} failed (fake)`);
  }

  private get(id: string) {
    const c = this.containers.get(id);
    if (!c) throw new DcmError('not-found', 'no such container');
    return c;
  }

  async ping() {}
  async version(): Promise<EngineVersion> {
    this.maybeFail('version');
    return { version: 'fake-1.0', apiVersion: '1.41' };
  }
  async createRequest(spec: ContainerSpec): Promise<EngineRequest> {
    return { method: 'POST', path: `/containers/create?name=${spec.name}`, body: { ...spec, name: undefined } };
  }
  async createContainer(spec: ContainerSpec) {
    this.maybeFail('createContainer');
    const id = String(++this.n).padStart(64, 'a');
    this.containers.set(id, { spec, state: 'created' });
    return id;
  }
  async start(id: string) {
    this.maybeFail('start');
    this.get(id).state = 'running';
  }
  async stop(id: string) {
    this.get(id).state = 'exited';
  }
  async restart(id: string) {
    this.get(id).state = 'running';
  }
  async pause(id: string) {
    this.get(id).state = 'paused';
  }
  async unpause(id: string) {
    this.get(id).state = 'running';
  }
  async remove(id: string) {
    this.maybeFail('remove');
    this.containers.delete(id);
  }
  async inspect(id: string): Promise<ContainerStatus | null> {
    const c = this.containers.get(id);
    if (!c) return null;
    // As the Docker adapter makes them; a container made before restart policies (no label) has none until set.
    const restartPolicy = c.spec.labels['dcm.restart'] || this.restartPolicySet.includes(id) ? 'unless-stopped' : 'no';
    return { id, state: c.state, status: c.state, labels: c.spec.labels, restartPolicy };
  }
  async list(labels: string[]): Promise<ContainerStatus[]> {
    const want = labels.map((l) => l.split('='));
    return [...this.containers.entries()]
      .filter(([, c]) => want.every(([k, v]) => c.spec.labels[k!] !== undefined && (v === undefined || c.spec.labels[k!] === v)))
      .map(([id, c]) => ({ id, state: c.state, status: c.state, labels: c.spec.labels }));
  }
  async logs() {
    return 'fake log\n';
  }
  /** The fake container's whole log, then the end, as when it has stopped. */
  async followLogs(_id: string, _tail: number, _signal: AbortSignal, onText: (text: string) => Promise<void>) {
    await onText('fake log\n');
  }
  async commit(_id: string, labels: Record<string, string>) {
    this.maybeFail('commit');
    const id = this.addImage('');
    const img = this.images.get(id)!;
    img.tags = [];
    img.labels = labels;
    return id;
  }
  async tag(imageId: string, repo: string, tag: string) {
    this.maybeFail('tag');
    const ref = `${repo}:${tag}`;
    for (const i of this.images.values()) i.tags = i.tags.filter((t) => t !== ref);
    this.images.get(imageId)!.tags.push(ref);
  }
  async inspectImage(ref: string) {
    return this.images.get(ref) ?? [...this.images.values()].find((i) => i.tags.includes(ref)) ?? null;
  }
  async removeImage(ref: string) {
    const i = await this.inspectImage(ref);
    if (i) this.images.delete(i.id);
  }
  async listImages(labels: string[]) {
    const want = labels.map((l) => l.split('='));
    return [...this.images.values()].filter((i) =>
      want.every(([k, v]) => i.labels[k!] !== undefined && (v === undefined || i.labels[k!] === v)),
    );
  }
  async info(): Promise<EngineInfo> {
    this.maybeFail('info');
    return { usernsRemap: this.usernsRemap };
  }
  async createNetwork(spec: NetworkSpec) {
    this.maybeFail('createNetwork');
    const nets = [...this.networks.values()];
    if (nets.some((n) => n.name === spec.name)) throw new DcmError('conflict', `network with name ${spec.name} already exists`);
    const want = parseCidr(spec.subnet)!;
    if (nets.some((n) => n.subnets.some((s) => overlaps(parseCidr(s)!, want))))
      throw new DcmError('conflict', `subnet ${spec.subnet} is in use`);
    const id = String(++this.n).padStart(64, 'b');
    this.networks.set(id, { id, name: spec.name, subnets: [spec.subnet], labels: spec.labels });
    return id;
  }
  async inspectNetwork(idOrName: string) {
    return this.networks.get(idOrName) ?? [...this.networks.values()].find((n) => n.name === idOrName) ?? null;
  }
  async removeNetwork(id: string) {
    const n = this.networks.get(id);
    if (!n) return;
    if ([...this.containers.values()].some((c) => c.spec.network === n.name || c.spec.network === id))
      throw new DcmError('conflict', `remove network: network ${n.name} id ${id} has active endpoints`);
    this.networks.delete(id);
  }
  async listNetworks(labels: string[]) {
    const want = labels.map((l) => l.split('='));
    return [...this.networks.values()].filter((n) =>
      want.every(([k, v]) => n.labels[k!] !== undefined && (v === undefined || n.labels[k!] === v)),
    );
  }
  /** A job's fake stdio: no output, input dropped; the fake job ends with `jobExitCode` when waited for. */
  jobExitCode = 0;
  async attach(id: string): Promise<StdioStream> {
    this.get(id);
    return quietStdio();
  }
  waitFor(id: string) {
    const c = this.containers.get(id);
    const exitCode = c ? Promise.resolve(this.jobExitCode) : Promise.reject(new DcmError('not-found', 'wait: not found'));
    exitCode.catch(() => undefined);
    return { registered: Promise.resolve(), exitCode };
  }
  async resize(id: string, _size: TtySize) {
    this.get(id);
  }
  async createExec(id: string, _spec: ExecSpec) {
    this.get(id);
    return `exec-${id}`;
  }
  async startExec() {
    return quietStdio();
  }
  async resizeExec() {}
  async execExitCode() {
    return 0;
  }
  /** Containers given a restart policy by setRestartPolicy, in order. */
  restartPolicySet: string[] = [];
  async setRestartPolicy(id: string) {
    this.get(id);
    this.restartPolicySet.push(id);
  }
  async reconnectNetwork(containerId: string, network: string) {
    const c = this.get(containerId);
    c.spec = { ...c.spec, network };
  }
}

/** Stdio of a fake process that prints nothing and ends at once. */
function quietStdio(): StdioStream {
  return { write: async () => {}, endInput() {}, pump: async () => {}, close() {} };
}
