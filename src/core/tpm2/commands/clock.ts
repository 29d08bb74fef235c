// TPM2_ReadClock (TPM 2.0 Part 3 §29.1): TPMS_TIME_INFO from virtual time.
import { defineCommand } from '../command';
import { CC } from '../constants';

export const ReadClock = defineCommand({
  code: CC.ReadClock,
  name: 'ReadClock',
  handles: [],
  duration: 'short',
  parse: () => undefined,
  run(ctx, call) {
    const timeMs = Math.floor((ctx.nowNs - ctx.startedAtNs) / 1_000_000);
    call.out.u64(BigInt(timeMs)); // time since TPM2_Startup
    call.out.u64(BigInt(ctx.clockMs())); // clockInfo.clock
    call.out.u32(ctx.perm.resetCount);
    call.out.u32(ctx.vol.restartCount);
    call.out.u8(1); // safe: YES (the clock never goes backwards here)
  },
});
