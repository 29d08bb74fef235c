// TPM2_Startup and TPM2_Shutdown (TPM 2.0 Part 3 §9.3, §9.4): TPM Reset, TPM Restart and TPM Resume.
import { defineCommand, param } from '../command';
import { CC, SU } from '../constants';
import type { TpmReader } from '../marshal';
import { nvStartup } from './nv';
import { pcrChanged } from './pcr';
import { freshPcrs, type TpmContext } from '../context';
import { RC, rcParam, TpmError } from '../rc';
import { PCR_BANKS, PCR_COUNT, PRIMARY_SEED_SIZE } from '../state';

/** PCRs 0–15 keep their values across Shutdown(STATE)/Startup(STATE) (PC Client stateSave attribute). */
const STATE_SAVED_PCRS = 16;

function readSu(n: number, r: TpmReader): number {
  return param(n, () => {
    const v = r.u16();
    if (v !== SU.CLEAR && v !== SU.STATE) throw new TpmError(RC.VALUE, `TPM_SU ${v}`);
    return v;
  });
}

/**
 * PCRStartup: every PCR that is (re)initialised counts as changed once — not once per bank — so a TPM
 * Reset leaves pcrUpdateCounter at 20 and a Resume adds 4 (observed from swtpm 0.7.1: 0x14, then 0x18).
 */
function countPcrStartup(ctx: TpmContext, resume: boolean): void {
  for (let pcr = 0; pcr < PCR_COUNT; pcr++) {
    if (resume && pcr < STATE_SAVED_PCRS) continue;
    pcrChanged(ctx, pcr);
  }
}

function startup(ctx: TpmContext, type: number): void {
  const saved = ctx.saved;
  if (type === SU.STATE && (!saved || ctx.perm.orderlyShutdown !== SU.STATE)) {
    // Startup(STATE) needs a preceding Shutdown(STATE).
    throw new TpmError(rcParam(RC.VALUE, 1), 'no saved state to resume');
  }
  const vol = ctx.vol;
  const orderlyBefore = ctx.perm.orderlyShutdown !== -1;
  // Transient objects and sequences never survive a Startup.
  vol.objects = [];
  vol.sequences = [];
  // No session is saved in this engine (ContextSave takes objects only), so every Startup flushes all.
  vol.sessions = [];
  vol.pcrs = freshPcrs();
  if (type === SU.STATE && saved) {
    // TPM Resume: state-saved PCRs come back, the rest start fresh.
    for (const bank of PCR_BANKS) {
      for (let i = 0; i < STATE_SAVED_PCRS; i++) vol.pcrs[bank][i] = saved.pcrs[bank][i]!.slice();
    }
    vol.restartCount = saved.restartCount + 1;
    vol.pcrUpdateCounter = saved.pcrUpdateCounter;
    countPcrStartup(ctx, true);
    nvStartup(ctx, 'resume', orderlyBefore);
  } else if (saved && ctx.perm.orderlyShutdown === SU.STATE) {
    // TPM Restart: Startup(CLEAR) after Shutdown(STATE).
    vol.restartCount = saved.restartCount + 1;
    vol.pcrUpdateCounter = saved.pcrUpdateCounter;
    countPcrStartup(ctx, false);
    nvStartup(ctx, 'restart', orderlyBefore);
  } else {
    // TPM Reset.
    ctx.perm.resetCount += 1;
    vol.restartCount = 0;
    vol.pcrUpdateCounter = 0;
    countPcrStartup(ctx, false);
    vol.nullSeed = ctx.random(PRIMARY_SEED_SIZE);
    vol.nullProof = ctx.random(PRIMARY_SEED_SIZE);
    vol.objectContextId = 0;
    nvStartup(ctx, 'reset', orderlyBefore);
  }
  ctx.saved = null;
  ctx.perm.orderlyShutdown = -1;
  ctx.started = true;
  ctx.startedAtNs = ctx.nowNs;
}

export const Startup = defineCommand({
  code: CC.Startup,
  name: 'Startup',
  handles: [],
  duration: 'medium',
  parse: (r) => readSu(1, r),
  run: (ctx, _call, type) => startup(ctx, type),
});

export const Shutdown = defineCommand({
  code: CC.Shutdown,
  name: 'Shutdown',
  handles: [],
  duration: 'short',
  parse: (r) => readSu(1, r),
  run(ctx, _call, type) {
    ctx.perm.orderlyShutdown = type;
    ctx.perm.clockMs = ctx.clockMs();
    ctx.saved =
      type === SU.STATE
        ? {
            pcrs: Object.fromEntries(
              PCR_BANKS.map((b) => [b, ctx.vol.pcrs[b].map((p) => p.slice())]),
            ) as TpmContext['vol']['pcrs'],
            restartCount: ctx.vol.restartCount,
            pcrUpdateCounter: ctx.vol.pcrUpdateCounter,
            clockMs: ctx.clockMs(),
          }
        : null;
  },
});
