// The four panels built beside this shell (src/app/panels/*Panel.tsx), loaded lazily and mounted as soon
// as their files exist: Vite's glob import lists what is there at build time, so a missing panel shows its
// labelled region with an empty state instead of breaking the build. Lazy loading keeps them (and their
// view models) out of the initial bundle.
import { lazy, Suspense, useMemo, type ComponentType, type LazyExoticComponent, type ReactNode } from 'react';
import { useSim } from '../store';
import { EmptyState, Panel } from './Panel';
import { PanelBoundary } from './PanelBoundary';

type AnyProps = Record<string, unknown>;
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
    <div className={className}>
      <PanelBoundary name={title}>
        <Suspense fallback={placeholder('Loading…')}>
          <C {...props} />
        </Suspense>
      </PanelBoundary>
    </div>
  );
}

export function StateChartSlot({ className }: { className: string }) {
  const active = useSim((s) => s.view?.tisActive);
  const lastTransition = useSim((s) => s.view?.lastTransition ?? null);
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
  const events = useSim((s) => s.events);
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
  const tx = useSim((s) => s.view?.transaction ?? null);
  return (
    <Slot
      name="TpmDecoderPanel"
      title="TPM decoder"
      role="The command and the response of the transaction, decoded."
      empty="The decoder arrives with its panel."
      className={className}
      props={{ command: tx?.command ?? null, response: tx?.response ?? null }}
    />
  );
}

export function GuestViewSlot({ className }: { className: string }) {
  const tx = useSim((s) => s.view?.transaction ?? null);
  const truth = useMemo(() => Array.from(tx?.response ?? []), [tx?.response]);
  return (
    <Slot
      name="GuestViewPanel"
      title="Guest view"
      role="The bytes the driver received beside the bytes the TPM sent."
      empty="The guest view arrives with its panel."
      className={className}
      props={{ received: tx?.received ?? [], truth, error: tx?.error ?? null }}
    />
  );
}
