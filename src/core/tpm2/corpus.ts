// Well-formed example commands for every implemented command group: the seed corpus of the fuzz tests
// and of `npm run fuzz`, and a smoke list for benchmarks. Values are plain and valid on a fresh TPM.
import { buildCommand, pwSession } from './build';
import { CAP, CC, RH, SU } from './constants';

const zeros = (n: number) => new Uint8Array(n);

export function exampleCommands(): Uint8Array[] {
  return [
    buildCommand({ code: CC.Startup, params: (w) => w.u16(SU.CLEAR) }),
    buildCommand({ code: CC.SelfTest, params: (w) => w.u8(1) }),
    buildCommand({ code: CC.IncrementalSelfTest, params: (w) => w.u32(1).u16(0x000b) }),
    buildCommand({ code: CC.GetTestResult }),
    buildCommand({ code: CC.GetRandom, params: (w) => w.u16(16) }),
    buildCommand({ code: CC.StirRandom, params: (w) => w.tpm2b(zeros(8)) }),
    buildCommand({ code: CC.ReadClock }),
    buildCommand({ code: CC.GetCapability, params: (w) => w.u32(CAP.TPM_PROPERTIES).u32(0x100).u32(8) }),
    buildCommand({ code: CC.GetCapability, params: (w) => w.u32(CAP.HANDLES).u32(0x80000000).u32(8) }),
    buildCommand({
      code: CC.PCR_Extend,
      handles: [0],
      sessions: [pwSession()],
      params: (w) => w.u32(1).u16(0x000b).bytes(zeros(32)),
    }),
    buildCommand({ code: CC.PCR_Read, params: (w) => w.u32(1).u16(0x000b).u8(3).u8(1).u8(0).u8(0) }),
    buildCommand({
      code: CC.PCR_Event,
      handles: [16],
      sessions: [pwSession()],
      params: (w) => w.tpm2b(zeros(4)),
    }),
    buildCommand({ code: CC.PCR_Reset, handles: [16], sessions: [pwSession()] }),
    buildCommand({ code: CC.Hash, params: (w) => w.tpm2b(zeros(5)).u16(0x000b).u32(RH.OWNER) }),
    buildCommand({ code: CC.HashSequenceStart, params: (w) => w.tpm2b(zeros(0)).u16(0x000b) }),
    buildCommand({
      code: CC.NV_DefineSpace,
      handles: [RH.OWNER],
      sessions: [pwSession()],
      params: (w) => {
        w.tpm2b(zeros(0));
        const fill = w.sizeField(2);
        w.u32(0x01000001).u16(0x000b).u32(0x00060006).tpm2b(zeros(0)).u16(8);
        fill();
      },
    }),
    buildCommand({
      code: CC.NV_Write,
      handles: [0x01000001, 0x01000001],
      sessions: [pwSession()],
      params: (w) => w.tpm2b(zeros(8)).u16(0),
    }),
    buildCommand({
      code: CC.NV_Read,
      handles: [0x01000001, 0x01000001],
      sessions: [pwSession()],
      params: (w) => w.u16(8).u16(0),
    }),
    buildCommand({ code: CC.NV_ReadPublic, handles: [0x01000001] }),
    // CreatePrimary with an ECC P-256 storage template (RSA is left out: each key takes ~200 ms).
    buildCommand({
      code: CC.CreatePrimary,
      handles: [RH.OWNER],
      sessions: [pwSession()],
      params: (w) => {
        w.u16(4).u16(0).u16(0);
        const fill = w.sizeField(2);
        w.u16(0x0023).u16(0x000b).u32(0x00030072).u16(0);
        w.u16(0x0006).u16(128).u16(0x0043);
        w.u16(0x0010).u16(0x0003).u16(0x0010).u16(0).u16(0);
        fill();
        w.u16(0).u32(0);
      },
    }),
    // Slot 0 holds the hash sequence started above, so the primary key is in slot 1.
    buildCommand({ code: CC.ReadPublic, handles: [0x80000001] }),
    buildCommand({ code: CC.FlushContext, params: (w) => w.u32(0x80000001) }),
    buildCommand({ code: CC.FlushContext, params: (w) => w.u32(0x80000000) }),
    buildCommand({ code: CC.Shutdown, params: (w) => w.u16(SU.STATE) }),
  ];
}
