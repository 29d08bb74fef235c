// A MessagePort as the MessageEndpoint the TPM protocol speaks over (src/core/backend/tpm-messages.ts).
import type { MessageEndpoint } from '../core/backend/tpm-messages';

export function portEndpoint(port: MessagePort): MessageEndpoint {
  return {
    postMessage: (m) => port.postMessage(m),
    subscribe(listener) {
      const onMessage = (e: MessageEvent) => listener(e.data);
      port.addEventListener('message', onMessage);
      port.start();
      return () => port.removeEventListener('message', onMessage);
    },
  };
}

/** The message that hands a TPM Worker a port to serve a device on (one device per port). */
export interface TpmConnect {
  kind: 'connect';
  port: MessagePort;
}

export function isTpmConnect(m: unknown): m is TpmConnect {
  return (
    typeof m === 'object' &&
    m !== null &&
    (m as { kind?: unknown }).kind === 'connect' &&
    (m as { port?: unknown }).port instanceof MessagePort
  );
}
