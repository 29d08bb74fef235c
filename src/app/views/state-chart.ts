// The state chart's view model, read from an XState machine definition (the TIS machine in the page), so
// the picture is the model: regions, states and transitions come from walking machine.root, never from a
// list written here. Also the helpers that turn a snapshot's value into the active paths the chart lights.
import type { AnyStateMachine, StateValue } from 'xstate';

/** One transition out of a state (or of a whole region), grouped by the events that take it. */
export interface ChartTransition {
  /** Event types that take this transition ("mmio.write", "backend.completed", "reset"). */
  events: string[];
  /** Paths of the target states ("cmd0.ready"); empty for a transition that stays (actions only). */
  targets: string[];
  /** The guard's name, if any ("commandStateBecomes"). */
  guard: string | null;
}

export interface ChartState {
  /** The state's key inside its region ("reception"). */
  key: string;
  /** Dot path from the root without the machine id ("cmd0.reception"). */
  path: string;
  isInitial: boolean;
  transitions: ChartTransition[];
  /** Nested regions/states of a compound state (the TIS machine has none below its regions). */
  children: ChartState[];
}

export interface ChartRegion {
  key: string;
  path: string;
  /** States in the order a reader meets them: breadth-first from the initial state along transitions. */
  states: ChartState[];
  /** Transitions declared on the region itself (e.g. reset → idle from any state). */
  transitions: ChartTransition[];
}

export interface StateChartModel {
  machineId: string;
  /** The root's parallel regions, side by side; a non-parallel root is one region. */
  regions: ChartRegion[];
}

/** The subset of XState's StateNode the walk reads (public properties of StateNode in v5). */
interface NodeLike {
  key: string;
  id: string;
  path: string[];
  type: string;
  states: Record<string, NodeLike>;
  initial?: { target?: readonly NodeLike[] } | undefined;
  transitions: Map<string, readonly TransitionLike[]>;
}

interface TransitionLike {
  target?: readonly NodeLike[] | undefined;
  guard?: unknown;
  eventType: string;
}

const pathOf = (node: NodeLike): string => node.path.join('.');

function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') return guard.name || 'guard';
  if (typeof guard === 'object' && 'type' in guard && typeof guard.type === 'string') return guard.type;
  return 'guard';
}

/**
 * A node's transitions, grouped for reading: one line per (guard, events) with all its targets. The TIS
 * locality region has a transition to every other locality on two events; that reads as one line.
 */
export function transitionsOf(node: NodeLike): ChartTransition[] {
  // First group by (target, guard), collecting events; then merge entries whose events and guard match.
  const byTarget = new Map<string, { targets: string[]; guard: string | null; events: string[] }>();
  for (const [, list] of node.transitions) {
    for (const t of list) {
      const targets = (t.target ?? []).map(pathOf);
      const guard = guardName(t.guard);
      const key = `${targets.join('|')}\u0000${guard ?? ''}`;
      const entry = byTarget.get(key) ?? { targets, guard, events: [] };
      if (!entry.events.includes(t.eventType)) entry.events.push(t.eventType);
      byTarget.set(key, entry);
    }
  }
  const merged = new Map<string, ChartTransition>();
  for (const e of byTarget.values()) {
    const key = `${e.events.join('|')}\u0000${e.guard ?? ''}\u0000${e.targets.length === 0 ? 'stay' : 'move'}`;
    const m = merged.get(key);
    if (m) m.targets.push(...e.targets.filter((t) => !m.targets.includes(t)));
    else merged.set(key, { events: [...e.events], targets: [...e.targets], guard: e.guard });
  }
  return [...merged.values()];
}

/** Children in breadth-first order from the initial state, then any the walk did not reach. */
function orderedChildren(node: NodeLike): NodeLike[] {
  const all = Object.values(node.states);
  const initial = node.initial?.target?.[0];
  if (!initial || node.type === 'parallel') return all;
  const seen = new Set<NodeLike>([initial]);
  const queue: NodeLike[] = [initial];
  for (let i = 0; i < queue.length; i++) {
    for (const [, list] of (queue[i] as NodeLike).transitions) {
      for (const t of list) {
        for (const target of t.target ?? []) {
          if (all.includes(target) && !seen.has(target)) {
            seen.add(target);
            queue.push(target);
          }
        }
      }
    }
  }
  return [...queue, ...all.filter((s) => !seen.has(s))];
}

function chartState(node: NodeLike, initialKey: string | undefined): ChartState {
  const initialChild = node.initial?.target?.[0]?.key;
  return {
    key: node.key,
    path: pathOf(node),
    isInitial: node.key === initialKey,
    transitions: transitionsOf(node),
    children: orderedChildren(node).map((c) => chartState(c, initialChild)),
  };
}

/** The chart of a machine: its root's regions (parallel) or the root itself as one region. */
export function chartOfMachine(machine: AnyStateMachine): StateChartModel {
  const root = machine.root as unknown as NodeLike;
  const regionNodes = root.type === 'parallel' ? Object.values(root.states) : [root];
  return {
    machineId: root.id,
    regions: regionNodes.map((region) => {
      const initialKey = region.initial?.target?.[0]?.key;
      return {
        key: region.key,
        path: pathOf(region),
        states: orderedChildren(region).map((s) => chartState(s, initialKey)),
        transitions: transitionsOf(region),
      };
    }),
  };
}

/**
 * A snapshot's value as the paths of its active leaf states: {cmd0: 'reception', locality: 'l0'} →
 * ['cmd0.reception', 'locality.l0']; a plain string value 'idle' → ['idle']. Object key order is kept.
 */
export function flattenStateValue(value: StateValue, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix + value];
  const out: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    if (child === undefined) continue;
    const sub = flattenStateValue(child as StateValue, `${prefix}${key}.`);
    // A region with no active child (an empty object) is itself the active leaf.
    out.push(...(sub.length === 0 ? [prefix + key] : sub));
  }
  return out;
}

/** A state as a path: an XState id ("tis.cmd0.idle") loses the machine id; a path passes unchanged. */
export function pathOfId(idOrPath: string, machineId: string): string {
  const prefix = `${machineId}.`;
  return idOrPath.startsWith(prefix) ? idOrPath.slice(prefix.length) : idOrPath;
}

/** Active entries as paths (pathOfId), with every ancestor of an active state, which is active too. */
export function normaliseActive(active: readonly string[], machineId: string): Set<string> {
  const out = new Set<string>();
  for (const a of active) {
    const path = pathOfId(a, machineId);
    const parts = path.split('.');
    for (let i = 1; i <= parts.length; i++) out.add(parts.slice(0, i).join('.'));
  }
  return out;
}

export interface LastTransition {
  from: string;
  to: string;
  event: string;
}

/**
 * The transition between two snapshots' values: the first region (in value order) whose active leaf
 * changed, preferring a command state (cmd0..cmd4) when several moved in one event, since that is the
 * transition the story is about. Null when nothing moved.
 */
export function lastTransitionBetween(
  before: StateValue,
  after: StateValue,
  event: string,
): LastTransition | null {
  const prev = flattenStateValue(before);
  const next = flattenStateValue(after);
  const regionOf = (p: string) => p.slice(0, p.lastIndexOf('.'));
  const moves: LastTransition[] = [];
  for (const to of next) {
    if (prev.includes(to)) continue;
    const from = prev.find((p) => regionOf(p) === regionOf(to) && p !== to);
    if (from !== undefined) moves.push({ from, to, event });
  }
  return moves.find((m) => /^cmd\d/.test(m.to)) ?? moves[0] ?? null;
}

/** The short name of a path's last part ("cmd0.reception" → "reception"). */
export const leafName = (path: string): string => path.slice(path.lastIndexOf('.') + 1);
