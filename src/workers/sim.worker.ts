// The simulation Web Worker: hosts one Machine (SimHost) and talks to the TPM Workers over the
// MessageChannels the page passes in, as QEMU talks to swtpm over its sockets (DESIGN.md, "Layers").
import { MessageTransport } from '../core/backend/message-transport';
import { portEndpoint } from './port-endpoint';
import { SimHost } from './sim-host';
import type { SimMessage, SimRequest } from './sim-protocol';

const scope = self as unknown as {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
};

let host: SimHost | null = null;
let ports: MessagePort[] = [];
const transports: (MessageTransport | null)[] = [null, null];

/** A macrotask turn: lets queued messages (Pause) in. MessageChannel, because nested timers are clamped. */
const tick = new MessageChannel();
const waiting: (() => void)[] = [];
tick.port1.onmessage = () => waiting.shift()?.();
function yieldToMessages(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    tick.port2.postMessage(0);
  });
}

function post(message: SimMessage, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

scope.addEventListener('message', (e: MessageEvent) => {
  const req = e.data as SimRequest;
  if (req?.type === 'init') {
    if (host) return;
    ports = req.tpmPorts;
    host = new SimHost({
      post,
      async openTransport(slot, options) {
        transports[slot]?.close();
        transports[slot] = null;
        const port = ports[slot];
        if (!port) throw new Error(`the page gave no TPM port for slot ${slot}`);
        const t = await MessageTransport.open(portEndpoint(port), options);
        transports[slot] = t;
        return t;
      },
      now: () => performance.now(),
      yieldToMessages,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    });
    void host.start();
  } else if (req?.type === 'ack') {
    host?.ack();
  } else if (req?.type === 'intent') {
    if (host) void host.receive(req.intent);
    else post({ type: 'error', message: 'The simulation is still starting: try again in a moment.' });
  } else {
    post({ type: 'error', message: 'The simulation Worker received a message it does not understand.' });
  }
});
