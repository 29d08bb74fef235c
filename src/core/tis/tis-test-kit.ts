// Shared by the TIS tests (not part of the model): a fake backend that answers when the test says so,
// register shorthands as QEMU's qtests spell them, and the invariant check.
import type { BackendCmd, TpmBackendPort } from './backend-port';
import { NO_LOCALITY, TIS_STATE_NAMES, isValidLocality } from './registers';
import { TisDevice } from './tis-device';
import type { TisSnapshot } from './tis-device';

/** TIS_REG(LOCTY, REG) of tpm-tis-util.c, relative to the region. */
export const reg = (locty: number, offset: number): number => (locty << 12) + offset;

const DRAINED_RESPONSE = Uint8Array.from([0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0]);

export class FakeBackend implements TpmBackendPort {
  readonly delivered: BackendCmd[] = [];
  pending: BackendCmd | null = null;
  cancels = 0;
  resetEstablishedCalls: number[] = [];
  resets = 0;
  established = false;
  /** tpm_backend_had_startup_error, as the test sets it. */
  hadStartupError = false;

  constructor(readonly bufferSize = 4096) {}

  deliverRequest(cmd: BackendCmd): void {
    this.delivered.push(cmd);
    // As tpm_backend_deliver_request: a second request while one is pending is refused.
    if (this.pending === null) this.pending = cmd;
  }
  cancelCmd(): void {
    this.cancels++;
  }
  getTpmEstablishedFlag(): boolean {
    return this.established;
  }
  resetTpmEstablishedFlag(locality: number): void {
    this.resetEstablishedCalls.push(locality);
  }
  getBufferSize(): number {
    return this.bufferSize;
  }
  getTpmVersion(): 2 {
    return 2;
  }
  /** Set by newTis: where reset() delivers a drained response. */
  frontend: TisDevice | null = null;

  reset(): void {
    this.resets++;
    // tpm_backend_reset runs tpm_backend_finish_sync: a command in flight completes first.
    if (this.pending !== null && this.frontend !== null) this.complete(this.frontend, DRAINED_RESPONSE);
  }

  /** The backend's bottom half: hand the response of the pending command to the TIS. */
  complete(tis: TisDevice, response: Uint8Array, selftestDone = false): BackendCmd {
    const cmd = this.pending;
    if (cmd === null) throw new Error('FakeBackend.complete: no command is pending');
    this.pending = null;
    cmd.output = response;
    cmd.selftestDone = selftestDone;
    tis.requestCompleted(cmd, 0);
    return cmd;
  }
}

export function newTis(
  bufferSize = 4096,
  foldAccesses = true,
): { tis: TisDevice; be: FakeBackend; trace: [string, unknown][] } {
  const be = new FakeBackend(bufferSize);
  const trace: [string, unknown][] = [];
  const tis = new TisDevice(be, { trace: (kind, data) => trace.push([kind, data]), foldAccesses });
  be.frontend = tis;
  return { tis, be, trace };
}

/** The machine's regions agree with its register file, and the register file is one QEMU can reach. */
export function invariantViolations(snap: TisSnapshot): string[] {
  const bad: string[] = [];
  const r = snap.context.regs;
  const value = snap.value as Record<string, string>;
  const wantLocality = isValidLocality(r.activeLocty) ? `l${r.activeLocty}` : 'none';
  if (value.locality !== wantLocality)
    bad.push(`locality region ${value.locality}, active_locty ${r.activeLocty}`);
  const wantAbort = isValidLocality(r.nextLocty) ? 'deferred' : 'clear';
  if (value.abort !== wantAbort) bad.push(`abort region ${value.abort}, next_locty ${r.nextLocty}`);
  r.loc.forEach((l, i) => {
    if (value[`cmd${i}`] !== TIS_STATE_NAMES[l.state]) {
      bad.push(`cmd${i} region ${value[`cmd${i}`]}, state ${TIS_STATE_NAMES[l.state]}`);
    }
    const active = (l.access & 0x20) !== 0;
    if (active !== (r.activeLocty === i))
      bad.push(`locality ${i} ACTIVE bit ${active}, active ${r.activeLocty}`);
  });
  if (!(r.rwOffset >= 0 && r.rwOffset <= r.beBufferSize)) bad.push(`rw_offset ${r.rwOffset}`);
  if (r.activeLocty !== NO_LOCALITY && !isValidLocality(r.activeLocty)) bad.push(`active ${r.activeLocty}`);
  return bad;
}

/** GetRandom(8), as a driver writes it to the FIFO. */
export const GET_RANDOM_COMMAND = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x7b, 0, 8];
/** A GetRandom response of two random bytes. */
export const GET_RANDOM_RESPONSE = Uint8Array.from([0x80, 0x01, 0, 0, 0, 14, 0, 0, 0, 0, 0, 2, 0xab, 0xcd]);

/** A TIS whose locality 0 sent GetRandom, got GET_RANDOM_RESPONSE back, and read `n` bytes of it. */
export function tisReadingResponse(n: number): ReturnType<typeof newTis> {
  const t = newTis();
  t.tis.write(reg(0, 0x00), 1, 0x02);
  t.tis.write(reg(0, 0x18), 1, 0x40);
  for (const b of GET_RANDOM_COMMAND) t.tis.write(reg(0, 0x24), 1, b);
  t.tis.write(reg(0, 0x18), 1, 0x20);
  t.be.complete(t.tis, GET_RANDOM_RESPONSE);
  for (let i = 0; i < n; i++) t.tis.read(reg(0, 0x24), 1);
  return t;
}
