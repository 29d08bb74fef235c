// The simulation side of the TPM Worker: a TpmTransport over a MessageEndpoint. Requests are answered in
// order by the Worker; each promise resolves with the answer carrying its id.
import type { TpmCommandResult, TpmTransport } from './transport';
import type { MessageEndpoint, TpmNvramStatus, TpmWorkerOptions, TpmWorkerResponse } from './tpm-messages';

interface Pending {
  resolve: (r: TpmWorkerResponse) => void;
  reject: (e: Error) => void;
}

export class MessageTransport implements TpmTransport {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly unsubscribe: () => void;
  private closed = false;

  private constructor(private readonly endpoint: MessageEndpoint) {
    this.unsubscribe = endpoint.subscribe((m) => this.onMessage(m as TpmWorkerResponse));
  }

  /** Connects and creates the device in the Worker; resolves when it is ready. */
  static async open(endpoint: MessageEndpoint, options: TpmWorkerOptions): Promise<MessageTransport> {
    const t = new MessageTransport(endpoint);
    const ready = await t.request({ kind: 'init', options });
    if (ready.kind === 'ready' && ready.nvram !== undefined) t.nvramStatus = ready.nvram;
    return t;
  }

  /** Where the Worker keeps the TPM's state, as its init answer said (absent from older Workers). */
  nvramStatus: TpmNvramStatus | undefined;

  private onMessage(m: TpmWorkerResponse): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.kind === 'error') p.reject(new Error(`TPM worker: ${m.message}`));
    else p.resolve(m);
  }

  private request(
    body:
      | { kind: 'init'; options: TpmWorkerOptions }
      | { kind: 'command'; bytes: Uint8Array; nowNs?: number }
      | { kind: 'control'; bytes: Uint8Array },
  ): Promise<TpmWorkerResponse> {
    if (this.closed) return Promise.reject(new Error('TPM transport is closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.endpoint.postMessage({ id, ...body });
    });
  }

  async command(bytes: Uint8Array, nowNs?: number): Promise<TpmCommandResult> {
    const r = await this.request(
      nowNs === undefined ? { kind: 'command', bytes } : { kind: 'command', bytes, nowNs },
    );
    if (r.kind !== 'command') throw new Error(`TPM worker answered ${r.kind} to a command`);
    return { response: r.bytes, durationNs: r.durationNs };
  }

  async control(bytes: Uint8Array): Promise<Uint8Array> {
    const r = await this.request({ kind: 'control', bytes });
    if (r.kind !== 'control') throw new Error(`TPM worker answered ${r.kind} to a control request`);
    return r.bytes;
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const p of this.pending.values()) p.reject(new Error('TPM transport closed'));
    this.pending.clear();
  }
}
