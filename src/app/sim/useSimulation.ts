// Starts the simulation Worker and the two TPM Workers (the source's swtpm and a migration destination's),
// connects them with MessageChannels, and wires the Worker's messages to the store. One per page.
import { useEffect } from 'react';
import type { SimMessage, SimRequest } from '../../workers/sim-protocol';
import { useSim } from '../store';

export function useSimulation(): void {
  useEffect(() => {
    const sim = new Worker(new URL('../../workers/sim.worker.ts', import.meta.url), { type: 'module' });
    const tpms = [0, 1].map(
      () => new Worker(new URL('../../workers/tpm.worker.ts', import.meta.url), { type: 'module' }),
    );
    const simPorts = tpms.map((tpm) => {
      const channel = new MessageChannel();
      tpm.postMessage({ kind: 'connect', port: channel.port1 }, [channel.port1]);
      return channel.port2;
    });
    const { receive, setSender, setWorkerError } = useSim.getState();
    sim.addEventListener('message', (e: MessageEvent<SimMessage>) => receive(e.data));
    const onError = (e: ErrorEvent) =>
      setWorkerError(`${e.message || 'a simulation Worker stopped'}. Reload the page to start again.`);
    sim.addEventListener('error', onError);
    for (const tpm of tpms) tpm.addEventListener('error', onError);
    const init: SimRequest = { type: 'init', tpmPorts: simPorts };
    sim.postMessage(init, simPorts);
    setSender((intent) => sim.postMessage({ type: 'intent', intent } satisfies SimRequest));
    return () => {
      setSender(() => {});
      sim.terminate();
      for (const tpm of tpms) tpm.terminate();
    };
  }, []);
}
