import { useEffect, useState } from 'react';
import { MessageTransport } from '../../core/backend/message-transport';
import type { TpmNvramStatus } from '../../core/backend/tpm-messages';
import { probeTpm, type TpmProbe } from './probe';

export type TpmProbeState =
  | { status: 'starting' }
  /** nvram: where the Worker keeps the TPM's state (undefined from a host that does not say). */
  | { status: 'ready'; probe: TpmProbe; nvram: TpmNvramStatus | undefined }
  | { status: 'failed'; message: string };

/** Starts the TPM Web Worker, probes it once, and stops it when the panel goes away. */
export function useTpmProbe(seed: string): TpmProbeState {
  const [state, setState] = useState<TpmProbeState>({ status: 'starting' });
  useEffect(() => {
    let cancelled = false;
    const worker = new Worker(new URL('../../workers/tpm.worker.ts', import.meta.url), { type: 'module' });
    let transport: MessageTransport | undefined;
    const endpoint = {
      postMessage: (m: unknown) => worker.postMessage(m),
      subscribe(listener: (m: unknown) => void) {
        const onMessage = (e: MessageEvent) => listener(e.data);
        worker.addEventListener('message', onMessage);
        return () => worker.removeEventListener('message', onMessage);
      },
    };
    worker.addEventListener('error', (e) => {
      if (!cancelled) setState({ status: 'failed', message: e.message || 'the TPM worker could not start' });
    });
    MessageTransport.open(endpoint, { seed, startupClear: true })
      .then((t) => {
        transport = t;
        return probeTpm(t);
      })
      .then((probe) => {
        if (!cancelled) setState({ status: 'ready', probe, nvram: transport?.nvramStatus });
      })
      .catch((e: unknown) => {
        if (!cancelled) setState({ status: 'failed', message: e instanceof Error ? e.message : String(e) });
      });
    return () => {
      cancelled = true;
      transport?.close();
      worker.terminate();
    };
  }, [seed]);
  return state;
}
