// TPM2_SelfTest, TPM2_IncrementalSelfTest, TPM2_GetTestResult (TPM 2.0 Part 3 §10).
import { defineCommand, param } from '../command';
import { ALG, CC } from '../constants';
import type { TpmReader } from '../marshal';
import { RC, TpmError } from '../rc';

/**
 * The algorithms a self-test covers, in TPM_ALG_ID order. Until SelfTest runs, IncrementalSelfTest
 * reports them as still to be tested, as libtpms does.
 */
export const TESTED_ALGS = [
  ALG.RSA,
  ALG.SHA1,
  ALG.HMAC,
  ALG.SHA256,
  ALG.SHA384,
  ALG.RSASSA,
  ALG.RSAES,
  ALG.RSAPSS,
  ALG.OAEP,
  ALG.ECDSA,
  ALG.ECDH,
  ALG.KDF1_SP800_108,
  ALG.ECC,
] as const;

export function readYesNo(r: TpmReader): boolean {
  const v = r.u8();
  if (v > 1) throw new TpmError(RC.VALUE, `TPMI_YES_NO ${v}`);
  return v === 1;
}

export const SelfTest = defineCommand({
  code: CC.SelfTest,
  name: 'SelfTest',
  handles: [],
  duration: 'long',
  parse: (r) => param(1, () => readYesNo(r)),
  run(ctx) {
    ctx.vol.selfTestDone = true;
  },
});

export const IncrementalSelfTest = defineCommand({
  code: CC.IncrementalSelfTest,
  name: 'IncrementalSelfTest',
  handles: [],
  duration: 'short',
  parse: (r) =>
    param(1, () => {
      const count = r.u32();
      if (count > 128) throw new TpmError(RC.SIZE, `TPML_ALG of ${count}`);
      return Array.from({ length: count }, () => r.u16());
    }),
  run(ctx, call) {
    // Testing is instantaneous here: the list of what remains is either everything or nothing.
    const todo = ctx.vol.selfTestDone ? [] : TESTED_ALGS;
    call.out.u32(todo.length);
    for (const a of todo) call.out.u16(a);
  },
});

export const GetTestResult = defineCommand({
  code: CC.GetTestResult,
  name: 'GetTestResult',
  handles: [],
  duration: 'short',
  parse: () => undefined,
  run(_ctx, call) {
    call.out.u16(0); // outData: no vendor-specific test data
    call.out.u32(RC.SUCCESS); // testResult
  },
});
