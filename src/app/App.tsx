import { useCallback, useEffect, useState } from 'react';
import { BackendStatus } from './components/BackendStatus';
import { ControlBar } from './components/ControlBar';
import { GuestViewSlot, LanesSlot, StateChartSlot, TpmDecoderSlot } from './components/ExternalPanels';
import { FifoView } from './components/FifoView';
import { GuestConsole } from './components/GuestConsole';
import { HazardAlerts } from './components/HazardAlerts';
import { HelpDialog } from './components/HelpDialog';
import { Panel } from './components/Panel';
import { ScenarioPicker } from './components/ScenarioPicker';
import { ThemeSwitcher } from './components/ThemeSwitcher';
import { TisRegistersView } from './components/TisRegistersView';
import { VcpuView } from './components/VcpuView';
import { PANEL_ROLES } from './panels';
import { useSimulation } from './sim/useSimulation';
import { useSettings, useSim } from './store';
import { useAppliedTheme } from './useAppliedTheme';
import { useShortcuts } from './useShortcuts';

function LargeTypeSwitch() {
  const on = useSettings((s) => s.largeType);
  const set = useSettings((s) => s.setLargeType);
  useEffect(() => {
    document.documentElement.style.fontSize = on ? '125%' : '';
  }, [on]);
  return (
    <label className="flex items-center gap-2 text-sm">
      <input type="checkbox" checked={on} onChange={(e) => set(e.target.checked)} className="h-4 w-4" />
      Large type
    </label>
  );
}

export function App() {
  useAppliedTheme();
  useSimulation();
  const [helpOpen, setHelpOpen] = useState(false);
  const send = useSim((s) => s.send);
  const isRunning = useCallback(() => !!useSim.getState().view?.running, []);
  const openHelp = useCallback(() => setHelpOpen(true), []);
  useShortcuts(isRunning, send, openHelp);
  const workerError = useSim((s) => s.workerError);
  return (
    <div className="min-h-screen bg-slate-100 text-slate-900 dark:bg-slate-950 dark:text-slate-100">
      <header className="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
        <div className="mx-auto flex max-w-[1600px] flex-wrap items-center justify-between gap-3 px-4 py-3">
          <div>
            <h1 className="text-xl font-bold tracking-tight">TIS Lab</h1>
            <p className="text-sm text-slate-600 dark:text-slate-400">
              A virtual TPM behind QEMU’s TIS interface: pause, snapshot and migrate mid-transaction.
            </p>
          </div>
          <div className="flex items-center gap-4">
            <LargeTypeSwitch />
            <ThemeSwitcher />
          </div>
        </div>
      </header>
      <main className="mx-auto max-w-[1600px] space-y-4 px-4 py-4">
        {workerError && (
          <p className="rounded border border-red-400 bg-red-50 px-3 py-2 text-red-900">{workerError}</p>
        )}
        <ControlBar onHelp={openHelp} />
        <HazardAlerts />
        <ScenarioPicker />
        <div className="grid grid-cols-1 gap-4 md:grid-cols-2 lg:grid-cols-4">
          <div className="flex flex-col gap-4 lg:col-span-1">
            <Panel {...PANEL_ROLES.vcpu}>
              <VcpuView />
            </Panel>
            <Panel {...PANEL_ROLES.backend}>
              <BackendStatus />
            </Panel>
          </div>
          <Panel {...PANEL_ROLES.tis} className="md:col-span-2 lg:col-span-2">
            <TisRegistersView />
          </Panel>
          <Panel {...PANEL_ROLES.fifo} className="lg:col-span-1">
            <FifoView />
          </Panel>
          <GuestViewSlot className="md:col-span-2 lg:col-span-2" />
          <StateChartSlot className="md:col-span-2 lg:col-span-2" />
          <LanesSlot className="md:col-span-2 lg:col-span-4" />
          <TpmDecoderSlot className="md:col-span-2 lg:col-span-2" />
          <Panel {...PANEL_ROLES.console} className="md:col-span-2 lg:col-span-2">
            <GuestConsole />
          </Panel>
        </div>
      </main>
      <HelpDialog open={helpOpen} onClose={() => setHelpOpen(false)} />
    </div>
  );
}
