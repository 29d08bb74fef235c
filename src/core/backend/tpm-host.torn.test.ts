// A TPM host whose NVRAM drive holds a write a crash cut short says so in its init answer, and the TPM
// starts from the value written before it (the blobstore's two slots).
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { CrashingDrive, MemoryDrive, type Drive } from '../nvram';
import { STATE_DRIVE_SIZE } from '../swtpm/blob-state-store';
import { STARTUP_CLEAR, nvDefine, nvWrite } from '../swtpm/nv-test-commands';
import { MessageTransport } from './message-transport';
import { serveTpm } from './tpm-host';
import type { MessageEndpoint } from './tpm-messages';

function endpoint(port: MessagePort): MessageEndpoint {
  return {
    postMessage: (m) => port.postMessage(m),
    subscribe(listener) {
      port.on('message', listener);
      return () => port.off('message', listener);
    },
  };
}

async function host(drive: Drive) {
  const { port1, port2 } = new MessageChannel();
  const stop = serveTpm(endpoint(port2), {
    openDrive: () => Promise.resolve({ drive, close: async () => {} }),
  });
  const transport = await MessageTransport.open(endpoint(port1), { seed: 'torn' });
  return {
    nvram: transport.nvramStatus,
    transport,
    async close() {
      transport.close();
      await stop();
      port1.close();
      port2.close();
    },
  };
}

describe('a torn NVRAM write', () => {
  it('is named in the init answer of the next start', async () => {
    const disk = new MemoryDrive(STATE_DRIVE_SIZE);
    const crashing = new CrashingDrive(disk);
    const first = await host(crashing);
    expect(first.nvram).toEqual({ kind: 'persistent', name: 'tislab-tpm-nvram' });
    await first.transport.command(STARTUP_CLEAR);
    await first.transport.command(nvDefine());
    crashing.crashAfter(300); // the next state write reaches the drive only in part
    await first.transport.command(nvWrite());
    await first.close();

    const second = await host(disk);
    const status = second.nvram as { kind: string; tornWrites?: string[] };
    expect(status.kind).toBe('persistent');
    expect(status.tornWrites).toHaveLength(1);
    expect(status.tornWrites![0]).toMatch(
      /^torn NVRAM write: write \d+ of blob "tpm2-00\.permall" \(slot [AB]\) was cut short \(a crash\?\); the value written before it \(sequence \d+\) is used$/,
    );
    await second.close();
  });
});
