// The TPM Web Worker: swtpm-like devices, as swtpm is its own process next to QEMU. The simulation talks to
// it with MessageTransport (src/core/backend/message-transport.ts), either over the Worker itself (one
// device) or over MessagePorts the page hands it with a 'connect' message (one device per port), so the
// simulation Worker can talk to it directly over a MessageChannel.
//
// A device keeps its permanent state in the page's IndexedDB unless its init asks for memory
// (src/core/backend/tpm-messages.ts); an NVRAM is held by one device at a time (a Web Lock), and a
// device that cannot have it runs in memory and says so in its init answer.
import { serveTpm, type TpmHostOptions } from '../core/backend/tpm-host';
import { openIndexedDbTpmDrive, workerEnv } from './indexeddb-tpm-drive';
import { isTpmConnect, portEndpoint } from './port-endpoint';

const scope = self as unknown as {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
};

const host: TpmHostOptions = {
  openDrive: (name, sizeBytes) => openIndexedDbTpmDrive(name, sizeBytes, workerEnv()),
};

serveTpm(
  {
    postMessage: (m) => scope.postMessage(m),
    subscribe(listener) {
      const onMessage = (e: MessageEvent) => {
        if (!isTpmConnect(e.data)) listener(e.data);
      };
      scope.addEventListener('message', onMessage);
      return () => scope.removeEventListener('message', onMessage);
    },
  },
  host,
);

scope.addEventListener('message', (e: MessageEvent) => {
  if (isTpmConnect(e.data)) serveTpm(portEndpoint(e.data.port), host);
});
