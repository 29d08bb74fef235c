// What the Backend and TPM panel shows before a machine exists: that the TPM engine answers from its
// Worker, who it says it is, and a few random bytes — read through the same transport the backend uses.
import type { TpmTransport } from '../../core/backend/transport';
import { buildCommand, parseResponse } from '../../core/tpm2/build';
import { CAP, CC, PT_FIXED } from '../../core/tpm2/constants';
import { describeRc } from '../../core/tpm2/rc';
import { hex } from '../../core/tpm2/marshal';

export interface TpmProbe {
  manufacturer: string;
  vendor: string;
  randomHex: string;
  /** TPM2_ReadClock's resetCount: one more per TPM Reset (each page load's TPM2_Startup(CLEAR)), so it
   * grows across reloads when the NVRAM keeps the TPM's permanent state. */
  resetCount: number;
  /** Virtual time the TPM spent answering the probe, in ns. */
  durationNs: number;
}

function ascii(v: number): string {
  return String.fromCharCode((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff).replace(
    /\0/g,
    '',
  );
}

export async function probeTpm(t: TpmTransport): Promise<TpmProbe> {
  const props = await t.command(
    buildCommand({
      code: CC.GetCapability,
      params: (w) =>
        w
          .u32(CAP.TPM_PROPERTIES)
          .u32(PT_FIXED + 5)
          .u32(3),
    }),
  );
  const p = parseResponse(props.response);
  if (p.rc !== 0) throw new Error(`GetCapability answered ${describeRc(p.rc)}`);
  p.body.u8();
  p.body.u32();
  const values = Array.from({ length: p.body.u32() }, () => [p.body.u32(), p.body.u32()] as const);
  const prop = (id: number) => values.find(([k]) => k === PT_FIXED + id)?.[1] ?? 0;
  const random = await t.command(buildCommand({ code: CC.GetRandom, params: (w) => w.u16(8) }));
  const r = parseResponse(random.response);
  if (r.rc !== 0) throw new Error(`GetRandom answered ${describeRc(r.rc)}`);
  const clock = await t.command(buildCommand({ code: CC.ReadClock }));
  const c = parseResponse(clock.response);
  if (c.rc !== 0) throw new Error(`ReadClock answered ${describeRc(c.rc)}`);
  c.body.u64(); // time
  c.body.u64(); // clockInfo.clock
  return {
    manufacturer: ascii(prop(5)),
    vendor: (ascii(prop(6)) + ascii(prop(7))).trim(),
    randomHex: hex(r.body.tpm2b(64)),
    resetCount: c.body.u32(),
    durationNs: props.durationNs + random.durationNs + clock.durationNs,
  };
}
