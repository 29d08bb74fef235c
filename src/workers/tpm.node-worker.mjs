// The same TPM worker under Node's worker_threads (tests and benchmarks): TypeScript through tsx.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { serveTpm } = await import('../core/backend/tpm-host.ts');
serveTpm({
  postMessage: (m) => parentPort.postMessage(m),
  subscribe(listener) {
    parentPort.on('message', listener);
    return () => parentPort.off('message', listener);
  },
});
parentPort.postMessage({ id: 0, kind: 'ready' });
