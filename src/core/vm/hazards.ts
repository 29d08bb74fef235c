// The hazards a migration can cause, as the machine names them in its trace (source 'hazard') and in
// Machine.hazards. Each carries the cut point that caused it, so the UI and `tislab sweep` can point at it.
// (Here in vm/ because the machine reports them; src/core/migration/hazards.ts re-exports them.)

export type HazardKind = 'duplicated-mmio-read' | 'lost-response' | 'double-execution' | 'torn-nvram-write';

/** The words the UI's alert shows (issue 7's accessibility contract). */
export const HAZARD_TITLES: Readonly<Record<HazardKind, string>> = {
  'duplicated-mmio-read': 'Duplicated MMIO read',
  'lost-response': 'Lost response',
  'double-execution': 'Double execution',
  'torn-nvram-write': 'Torn NVRAM write',
};

/** Where the source machine was cut (stopped and saved), in the terms of the three MMIO steps. */
export interface CutPoint {
  /** Virtual time of the source when it was saved. */
  timeNs: number;
  /** The cut's number in a sweep (its step boundary, counted from the transaction's start); else null. */
  index: number | null;
  /** The vCPU's pending MMIO exit at the cut, or null. */
  pendingMmio: { addr: number; size: 1 | 2 | 4; isWrite: boolean; phase: 'exited' | 'handled' } | null;
  /** The backend's phase at the cut ('idle', 'transmitting', 'executing', 'bottomHalfPending'). */
  backendPhase: string;
  /** One line a person can read: "between the exit and the re-entry of a 1-byte FIFO read at 0xfed40024". */
  description: string;
}

export interface Hazard {
  kind: HazardKind;
  title: string;
  /** Virtual time on the destination when the hazard showed. */
  atNs: number;
  cut: CutPoint;
  /** What happened, e.g. "the FIFO read at 0xfed40024 was executed again: rw_offset 17 → 18, byte 0x3a lost". */
  detail: string;
}
