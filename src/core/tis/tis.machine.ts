// The TIS interface as an XState v5 machine. Its context is the register file (QEMU's TPMState); its
// parallel regions are the parts of that state a reader thinks of as states:
//   locality       which locality is active: none, l0..l4 (request use, seize, relinquish, hand-over)
//   abort          clear, or deferred: an abort (seize, hand-over, COMMAND_READY) waits for the executing
//                  command to complete (QEMU's next_locty/aborting_locty set while a locality executes)
//   cmd0..cmd4     each locality's TPMTISState: idle, ready, reception, execution, completion
//   registers      one state whose transition applies the event to the register file
// Every MMIO access is one event. What an event does is decided once, by the pure step function of
// tis-logic.ts (a line-by-line reading of QEMU's tpm_tis_common.c); the `registers` region stores the
// result in the context, and the other regions take the transitions that result implies. Only the moves
// QEMU can make exist as transitions, so a step that tried another would leave a region out of step with
// the context, which the tests check after every event.
//
// Folding. XState's cost per event grows with the number of active state nodes (this machine has 17, a
// step ~20 µs), and one interpreter step per MMIO access would cost more than the rest of the device,
// backend and TPM together (see bench/tis.bench.ts). So TisDevice sends the machine only the accesses
// that move a state, and folds the runs in between (status polls, FIFO bytes) into the register file
// the next event starts from:
//   - an access event may carry `base`, the register file reached from the context by accesses that
//     moved no state; the event applies to `base` instead of the context (commit and access in one
//     step). A `base` that differs from the context in anything a region shows is refused: nothing
//     changes.
//   - `registers.commit` sets the register file to one that keeps every region's state (refused
//     otherwise), for when someone looks at the snapshot between state moves.
import { assign, setup } from 'xstate';
import { NO_LOCALITY, TIS_NUM_LOCALITIES, TIS_STATE_NAMES, TisState, isValidLocality } from './registers';
import { initialRegisters, step } from './tis-logic';
import type { TisEvent, TisRegisters, TisStepResult } from './tis-logic';

/** Registers reached by events that moved no state, folded into one event (see the top of this file). */
export interface TisCommitEvent {
  readonly type: 'registers.commit';
  readonly regs: TisRegisters;
}

/** An access or completion, applied to `base` when given: the context's register file after accesses
 * that moved no state (see the top of this file). */
export type TisAccessEvent = TisEvent & { readonly base?: TisRegisters };

export type TisMachineEvent = TisAccessEvent | TisCommitEvent;

/** True when `after` differs from `before` in anything a region shows: a command state, the active
 * locality, or whether an abort is deferred. */
export function movesState(before: TisRegisters, after: TisRegisters): boolean {
  if (after.activeLocty !== before.activeLocty) return true;
  if (isValidLocality(after.nextLocty) !== isValidLocality(before.nextLocty)) return true;
  if (after.loc === before.loc) return false;
  for (let l = 0; l < TIS_NUM_LOCALITIES; l++) {
    if (after.loc[l]?.state !== before.loc[l]?.state) return true;
  }
  return false;
}

/**
 * The register file. A read's value and the effects of an event (backend calls, IRQ, trace) are
 * stepOnce(regs, event).readValue / .effects: pure functions of the snapshot the event arrives in, given
 * by the same step that yields the snapshot after it.
 */
export interface TisContext {
  readonly regs: TisRegisters;
}

export interface TisInput {
  bufferSize?: number;
  tpmVersion?: 1 | 2;
}

// Guards of all regions and the one assign of an event see the same (context, event) pair; the step is
// computed once for it. A memo of a pure function, so it changes no result.
let memoRegs: TisRegisters | null = null;
let memoEvent: TisEvent | null = null;
let memoResult: TisStepResult | null = null;

export function stepOnce(regs: TisRegisters, event: TisEvent): TisStepResult {
  if (regs !== memoRegs || event !== memoEvent || memoResult === null) {
    memoResult = step(regs, event);
    memoRegs = regs;
    memoEvent = event;
  }
  return memoResult;
}

/** The register file after an event: the machine's one notion of what an event does. Memoised like
 * stepOnce: a dozen guards ask it about the same (context, event) pair. */
let afterContext: TisRegisters | null = null;
let afterEvent: TisMachineEvent | null = null;
let afterRegs: TisRegisters | null = null;

function after(context: TisContext, event: TisMachineEvent): TisRegisters {
  if (event.type === 'registers.commit') return event.regs;
  if (context.regs === afterContext && event === afterEvent && afterRegs !== null) return afterRegs;
  const base = event.base ?? context.regs;
  // A base that moved a state is refused: the event changes nothing and no region moves.
  const regs =
    base !== context.regs && movesState(context.regs, base) ? context.regs : stepOnce(base, event).regs;
  afterContext = context.regs;
  afterEvent = event;
  afterRegs = regs;
  return regs;
}

/** The command-state moves QEMU's tpm_tis_common.c can make in one event (reset aside). */
const COMMAND_MOVES: Readonly<Record<string, readonly { to: TisState; on: readonly string[] }[]>> = {
  // STS COMMAND_READY
  idle: [{ to: TisState.READY, on: ['mmio.write'] }],
  // the first FIFO byte
  ready: [{ to: TisState.RECEPTION, on: ['mmio.write'] }],
  // TPM_GO with EXPECT clear; COMMAND_READY aborts (at once, or at the completion of another
  // locality's command when one executes)
  reception: [
    { to: TisState.EXECUTION, on: ['mmio.write'] },
    { to: TisState.READY, on: ['mmio.write', 'backend.completed'] },
  ],
  // the response arrives; with a deferred self-abort (COMMAND_READY during execution) it is dropped
  execution: [
    { to: TisState.COMPLETION, on: ['backend.completed'] },
    { to: TisState.READY, on: ['backend.completed'] },
  ],
  // STS COMMAND_READY
  completion: [{ to: TisState.READY, on: ['mmio.write'] }],
};

function commandRegion(locality: number) {
  const states: Record<string, { on: Record<string, { target: string; guard: object }[]> }> = {};
  for (const name of TIS_STATE_NAMES) {
    const on: Record<string, { target: string; guard: object }[]> = {};
    for (const move of COMMAND_MOVES[name] ?? []) {
      for (const type of move.on) {
        (on[type] ??= []).push({
          target: TIS_STATE_NAMES[move.to],
          guard: { type: 'commandStateBecomes', params: { locality, to: move.to } },
        });
      }
    }
    states[name] = { on };
  }
  return { initial: 'idle', on: { reset: { target: '.idle' } }, states };
}

const LOCALITY_STATES = ['none', 'l0', 'l1', 'l2', 'l3', 'l4'] as const;
const localityIndex = (name: string): number => (name === 'none' ? NO_LOCALITY : Number(name.slice(1)));

function localityRegion() {
  const states: Record<string, { on: Record<string, { target: string; guard: object }[]> }> = {};
  for (const from of LOCALITY_STATES) {
    const moves = LOCALITY_STATES.filter((to) => to !== from).map((to) => ({
      target: to,
      guard: { type: 'activeLocalityBecomes', params: { locality: localityIndex(to) } },
    }));
    // ACCESS writes arbitrate; a completion finishes a deferred hand-over or seize.
    states[from] = { on: { 'mmio.write': moves, 'backend.completed': moves } };
  }
  return { initial: 'none', on: { reset: { target: '.none' } }, states };
}

export const tisMachine = setup({
  types: {
    context: {} as TisContext,
    events: {} as TisMachineEvent,
    input: {} as TisInput,
  },
  guards: {
    commandStateBecomes: ({ context, event }, params: { locality: number; to: TisState }) =>
      after(context, event).loc[params.locality]?.state === params.to,
    activeLocalityBecomes: ({ context, event }, params: { locality: number }) =>
      after(context, event).activeLocty === params.locality,
    abortDeferred: ({ context, event }) => isValidLocality(after(context, event).nextLocty),
    abortSettled: ({ context, event }) => !isValidLocality(after(context, event).nextLocty),
    // Most accesses (register polls, dropped writes) change nothing: no transition, the snapshot stays.
    changesRegisters: ({ context, event }) => after(context, event) !== context.regs,
    keepsStates: ({ context, event }) => !movesState(context.regs, after(context, event)),
  },
  actions: {
    applyEvent: assign(({ context, event }) => ({ regs: after(context, event) })),
  },
}).createMachine({
  id: 'tis',
  type: 'parallel',
  context: ({ input }) => ({
    regs: initialRegisters(input.bufferSize, input.tpmVersion),
  }),
  states: {
    locality: localityRegion(),
    abort: {
      initial: 'clear',
      on: { reset: { target: '.clear' } },
      states: {
        clear: { on: { 'mmio.write': { target: 'deferred', guard: 'abortDeferred' } } },
        deferred: { on: { 'backend.completed': { target: 'clear', guard: 'abortSettled' } } },
      },
    },
    ...Object.fromEntries(
      Array.from({ length: TIS_NUM_LOCALITIES }, (_, l) => [`cmd${l}`, commandRegion(l)] as const),
    ),
    registers: {
      initial: 'file',
      states: {
        file: {
          on: {
            'mmio.read': { guard: 'changesRegisters', actions: 'applyEvent' },
            'mmio.write': { guard: 'changesRegisters', actions: 'applyEvent' },
            'backend.completed': { guard: 'changesRegisters', actions: 'applyEvent' },
            'registers.commit': { guard: 'keepsStates', actions: 'applyEvent' },
            reset: { actions: 'applyEvent' },
          },
        },
      },
    },
  },
});

export type TisMachine = typeof tisMachine;
