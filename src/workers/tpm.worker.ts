// The TPM Web Worker: swtpm-like devices, as swtpm is its own process next to QEMU. The simulation talks to
// it with MessageTransport (src/core/backend/message-transport.ts), either over the Worker itself (one
// device) or over MessagePorts the page hands it with a 'connect' message (one device per port), so the
// simulation Worker can talk to it directly over a MessageChannel.
import { serveTpm } from '../core/backend/tpm-host';
import { isTpmConnect, portEndpoint } from './port-endpoint';

const scope = self as unknown as {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
};

serveTpm({
  postMessage: (m) => scope.postMessage(m),
  subscribe(listener) {
    const onMessage = (e: MessageEvent) => {
      if (!isTpmConnect(e.data)) listener(e.data);
    };
    scope.addEventListener('message', onMessage);
    return () => scope.removeEventListener('message', onMessage);
  },
});

scope.addEventListener('message', (e: MessageEvent) => {
  if (isTpmConnect(e.data)) serveTpm(portEndpoint(e.data.port));
});
