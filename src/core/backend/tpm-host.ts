// The Worker side: hosts one SwtpmDevice behind a MessageEndpoint (as swtpm is its own process behind
// its sockets). src/workers/tpm.worker.ts calls this with the Worker's global scope.
import { SwtpmDevice } from '../swtpm';
import type { MessageEndpoint, TpmWorkerRequest, TpmWorkerResponse } from './tpm-messages';

function isRequest(m: unknown): m is TpmWorkerRequest {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as { id?: unknown; kind?: unknown };
  return typeof r.id === 'number' && (r.kind === 'init' || r.kind === 'command' || r.kind === 'control');
}

export function serveTpm(endpoint: MessageEndpoint): () => void {
  let device: SwtpmDevice | undefined;
  const reply = (r: TpmWorkerResponse) => endpoint.postMessage(r);
  return endpoint.subscribe((message) => {
    if (!isRequest(message)) {
      reply({ id: -1, kind: 'error', message: 'the TPM worker received a message it does not understand' });
      return;
    }
    try {
      if (message.kind === 'init') {
        device = new SwtpmDevice(message.options);
        reply({ id: message.id, kind: 'ready' });
        return;
      }
      if (!device) {
        reply({
          id: message.id,
          kind: 'error',
          message: 'the TPM worker has no device yet: send init first',
        });
        return;
      }
      if (!(message.bytes instanceof Uint8Array)) {
        reply({ id: message.id, kind: 'error', message: `${message.kind} needs bytes as a Uint8Array` });
        return;
      }
      if (message.kind === 'command') {
        const r = device.handleCommand(
          message.bytes,
          message.nowNs === undefined ? {} : { nowNs: message.nowNs },
        );
        reply({ id: message.id, kind: 'command', bytes: r.response, durationNs: r.durationNs });
      } else {
        reply({ id: message.id, kind: 'control', bytes: device.handleControl(message.bytes) });
      }
    } catch (e) {
      reply({ id: message.id, kind: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  });
}
