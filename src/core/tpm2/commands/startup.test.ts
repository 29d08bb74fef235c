// TPM Reset, Restart and Resume across power cycles (CMD_INIT on the swtpm device), with the PCR
// generation counter and restart/reset counts swtpm 0.7.1 reports for the same sequence.
import { describe, expect, it } from 'vitest';
import { MemoryStateStore, SwtpmDevice } from '../../swtpm/device';
import { buildCommand, parseResponse } from '../build';
import { ALG, CC, SU } from '../constants';
import { fromHex, hex } from '../marshal';

const startup = (su: number) => buildCommand({ code: CC.Startup, params: (w) => w.u16(su) });
const shutdown = (su: number) => buildCommand({ code: CC.Shutdown, params: (w) => w.u16(su) });
const PCR_READ_SHA256_NONE = buildCommand({
  code: CC.PCR_Read,
  params: (w) => w.u32(1).u16(ALG.SHA256).u8(3).u8(0).u8(0).u8(0),
});
const READ_CLOCK = buildCommand({ code: CC.ReadClock });

function pcrUpdateCounter(dev: SwtpmDevice): number {
  const p = parseResponse(dev.handleCommand(PCR_READ_SHA256_NONE).response);
  expect(p.rc).toBe(0);
  return p.body.u32();
}

function counts(dev: SwtpmDevice): { resetCount: number; restartCount: number } {
  const p = parseResponse(dev.handleCommand(READ_CLOCK).response).body;
  p.u64();
  p.u64();
  return { resetCount: p.u32(), restartCount: p.u32() };
}

/** Power off and on: CMD_INIT with no flags, as a swtpm restart on the same state directory. */
function powerCycle(dev: SwtpmDevice): void {
  expect(hex(dev.handleControl(fromHex('00000002 00000000')))).toBe('00000000');
}

describe('Startup after power cycles', () => {
  it('TPM Reset: pcrUpdateCounter 20 (observed 0x14), resetCount 1, restartCount 0', () => {
    const dev = new SwtpmDevice({ seed: 'su', store: new MemoryStateStore() });
    expect(parseResponse(dev.handleCommand(startup(SU.CLEAR)).response).rc).toBe(0);
    expect(pcrUpdateCounter(dev)).toBe(20);
    expect(counts(dev)).toEqual({ resetCount: 1, restartCount: 0 });
  });

  it('TPM Resume adds 4 (observed 0x18) and TPM Restart adds 20 (observed 0x28)', () => {
    const dev = new SwtpmDevice({ seed: 'su', store: new MemoryStateStore() });
    dev.handleCommand(startup(SU.CLEAR));
    dev.handleCommand(shutdown(SU.STATE));
    powerCycle(dev);
    expect(parseResponse(dev.handleCommand(startup(SU.STATE)).response).rc).toBe(0);
    expect(pcrUpdateCounter(dev)).toBe(24);
    expect(counts(dev)).toEqual({ resetCount: 1, restartCount: 1 });

    const restart = new SwtpmDevice({ seed: 'su', store: new MemoryStateStore() });
    restart.handleCommand(startup(SU.CLEAR));
    restart.handleCommand(shutdown(SU.STATE));
    powerCycle(restart);
    expect(parseResponse(restart.handleCommand(startup(SU.CLEAR)).response).rc).toBe(0);
    expect(pcrUpdateCounter(restart)).toBe(40);
  });

  it('Startup(STATE) without a Shutdown(STATE) is TPM_RC_VALUE for parameter 1 (observed 0x1c4)', () => {
    const dev = new SwtpmDevice({ seed: 'su', store: new MemoryStateStore() });
    dev.handleCommand(startup(SU.CLEAR));
    dev.handleCommand(shutdown(SU.CLEAR));
    powerCycle(dev);
    expect(parseResponse(dev.handleCommand(startup(SU.STATE)).response).rc).toBe(0x1c4);
  });
});
