// The TPM Web Worker: one swtpm-like device, as swtpm is its own process next to QEMU. The simulation
// talks to it with MessageTransport (src/core/backend/message-transport.ts).
import { serveTpm } from '../core/backend/tpm-host';

const scope = self as unknown as {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
};

serveTpm({
  postMessage: (m) => scope.postMessage(m),
  subscribe(listener) {
    const onMessage = (e: MessageEvent) => listener(e.data);
    scope.addEventListener('message', onMessage);
    return () => scope.removeEventListener('message', onMessage);
  },
});
