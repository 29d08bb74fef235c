// The four panels built beside this shell (src/app/panels/*Panel.tsx), loaded lazily and mounted as soon
// as their files exist: Vite's glob import lists what is there at build time, so a missing panel shows its
// labelled region with an empty state instead of breaking the build. Lazy loading keeps them (and their
// view models) out of the initial bundle.
import { lazy, Suspense, useMemo, type ComponentType, type LazyExoticComponent, type ReactNode } from 'react';
import { useThrottledWhileRunning } from '../sim/useThrottled';
import { useSim } from '../store';
import { EmptyState, Panel } from './Panel';
import { PanelBoundary } from './PanelBoundary';

type AnyProps = Record<string, unknown>;
const NO_BYTES: number[] = [];
const loaders = import.meta.glob<Record<string, ComponentType<AnyProps>>>('../panels/*Panel.tsx');

const cache = new Map<string, LazyExoticComponent<ComponentType<AnyProps>> | null>();

function external(name: string): LazyExoticComponent<ComponentType<AnyProps>> | null {
  if (!cache.has(name)) {
    const load = loaders[`../panels/${name}.tsx`];
    cache.set(
      name,
      load
        ? lazy(() =>
            load().then((m) => {
              const C = m[name];
              if (!C) throw new Error(`${name}.tsx does not export ${name}`);
              return { default: C };
            }),
          )
        : null,
    );
  }
  return cache.get(name) ?? null;
}

function Slot({
  name,
  title,
  role,
  empty,
  className,
  props,
}: {
  name: string;
  title: string;
  role: string;
  empty: string;
  className: string;
  props: AnyProps;
}) {
  const C = external(name);
  const placeholder = (text: ReactNode) => (
    <Panel title={title} role={role} className={className}>
      <EmptyState>{text}</EmptyState>
    </Panel>
  );
  if (!C) return placeholder(empty);
  return (
    <div
      className={`[contain:content] [content-visibility:auto] [contain-intrinsic-size:auto_500px] ${className}`}
    >
      <PanelBoundary name={title}>
        <Suspense fallback={placeholder('Loading…')}>
          <C {...props} />
        </Suspense>
      </PanelBoundary>
    </div>
  );
}

export function StateChartSlot({ className }: { className: string }) {
  const active = useThrottledWhileRunning(
    useSim((s) => s.view?.tisActive),
    100,
  );
  const lastTransition = useThrottledWhileRunning(
    useSim((s) => s.view?.lastTransition ?? null),
    100,
  );
  return (
    <Slot
      name="StateChartPanel"
      title="State chart"
      role="QEMU’s TIS as a state machine: localities, abort, the command state of each locality."
      empty="The state chart arrives with its panel."
      className={className}
      props={{ active: active ?? [], lastTransition }}
    />
  );
}

export function LanesSlot({ className }: { className: string }) {
  const events = useThrottledWhileRunning(
    useSim((s) => s.events),
    250,
  );
  const markers = useSim((s) => s.view?.markers);
  return (
    <Slot
      name="LanesPanel"
      title="Lanes"
      role="vCPU, KVM, QEMU TIS, backend thread, main loop, TPM worker and migration over virtual time."
      empty="The lanes arrive with their panel."
      className={className}
      props={{ events, markers: markers ?? [] }}
    />
  );
}

export function TpmDecoderSlot({ className }: { className: string }) {
  const command = useThrottledWhileRunning(
    useSim((s) => s.view?.transaction?.command ?? null),
    250,
  );
  const response = useThrottledWhileRunning(
    useSim((s) => s.view?.transaction?.response ?? null),
    250,
  );
  return (
    <Slot
      name="TpmDecoderPanel"
      title="TPM decoder"
      role="The command and the response of the transaction, decoded."
      empty="The decoder arrives with its panel."
      className={className}
      props={{ command, response }}
    />
  );
}

export function GuestViewSlot({ className }: { className: string }) {
  const tx = useThrottledWhileRunning(
    useSim((s) => s.view?.transaction ?? null),
    150,
  );
  const received = tx?.received;
  const response = tx?.response ?? null;
  const error = tx?.error ?? null;
  const truth = useMemo(() => Array.from(response ?? []), [response]);
  return (
    <Slot
      name="GuestViewPanel"
      title="Guest view"
      role="The bytes the driver received beside the bytes the TPM sent."
      empty="The guest view arrives with its panel."
      className={className}
      props={{ received: received ?? NO_BYTES, truth, error }}
    />
  );
}
