// TPM2_GetRandom and TPM2_StirRandom (TPM 2.0 Part 3 §16): every byte from the seeded HMAC-DRBG.
import { defineCommand, param } from '../command';
import { CC } from '../constants';
import { RANDOM_COST_NS_PER_BYTE } from '../cost';

/** libtpms caps a GetRandom answer at sizeof(TPMU_HA): 64 bytes with SHA-512 compiled in. */
export const MAX_RANDOM_BYTES = 64;
/** TPM2B_SENSITIVE_DATA capacity (MAX_SYM_DATA in libtpms). */
const MAX_SENSITIVE_DATA = 256;

export const GetRandom = defineCommand({
  code: CC.GetRandom,
  name: 'GetRandom',
  handles: [],
  duration: 'long',
  parse: (r) => param(1, () => r.u16()),
  run(ctx, call, requested) {
    const n = Math.min(requested, MAX_RANDOM_BYTES);
    call.out.tpm2b(ctx.random(n));
    call.extraCostNs += n * RANDOM_COST_NS_PER_BYTE;
  },
});

export const StirRandom = defineCommand({
  code: CC.StirRandom,
  name: 'StirRandom',
  handles: [],
  duration: 'short',
  parse: (r) => param(1, () => r.tpm2b(MAX_SENSITIVE_DATA)),
  run(ctx, _call, inData) {
    // As libtpms' DRBG_AdditionalData: the bytes are mixed into the DRBG state as additional input,
    // with no new entropy, so the stream stays a function of the seed and the commands sent.
    if (inData.length > 0) ctx.drbg.generate(0, inData);
  },
});
