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
    const { receiveAll, setSender, setWorkerError } = useSim.getState();
    // Messages are applied once per animation frame, all together: one render per frame at most, and
    // fewer when the page is busy (views coalesce, trace batches are all kept).
    let pending: SimMessage[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = pending;
      pending = [];
      receiveAll(batch);
      // Acknowledged at the next frame, once this one has been drawn: the Worker sends no faster than that.
      requestAnimationFrame(() => sim.postMessage({ type: 'ack' } satisfies SimRequest));
    };
    sim.addEventListener('message', (e: MessageEvent<SimMessage>) => {
      pending.push(e.data);
      if (frame === 0) frame = requestAnimationFrame(flush);
    });
    const onError = (e: ErrorEvent) =>
      setWorkerError(`${e.message || 'a simulation Worker stopped'}. Reload the page to start again.`);
    sim.addEventListener('error', onError);
    for (const tpm of tpms) tpm.addEventListener('error', onError);
    const init: SimRequest = { type: 'init', tpmPorts: simPorts };
    sim.postMessage(init, simPorts);
    setSender((intent) => sim.postMessage({ type: 'intent', intent } satisfies SimRequest));
    return () => {
      if (frame !== 0) cancelAnimationFrame(frame);
      setSender(() => {});
      sim.terminate();
      for (const tpm of tpms) tpm.terminate();
    };
  }, []);
}
