// Starts the TPM worker in a Node worker_threads Worker: the Worker path for tests, benchmarks and the
// CLI. The browser uses src/workers/tpm.worker.ts with the same host code.
import { Worker } from 'node:worker_threads';
import { MessageTransport } from '../core/backend/message-transport';
import type { TpmWorkerOptions } from '../core/backend/tpm-messages';

export interface NodeTpmWorker {
  transport: MessageTransport;
  terminate(): Promise<void>;
}

export async function startNodeTpmWorker(options: TpmWorkerOptions): Promise<NodeTpmWorker> {
  const worker = new Worker(new URL('./tpm.node-worker.mjs', import.meta.url));
  // The worker announces itself once its TypeScript is loaded (message id 0).
  await new Promise<void>((resolve, reject) => {
    const onMessage = (m: { id?: number; kind?: string }) => {
      if (m.id === 0 && m.kind === 'ready') {
        worker.off('message', onMessage);
        resolve();
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
  const transport = await MessageTransport.open(
    {
      postMessage: (m) => worker.postMessage(m),
      subscribe(listener) {
        worker.on('message', listener);
        return () => worker.off('message', listener);
      },
    },
    options,
  );
  return {
    transport,
    async terminate() {
      transport.close();
      await worker.terminate();
    },
  };
}
