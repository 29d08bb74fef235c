// The panels this shell draws itself, in the order the story flows: the guest's vCPU traps into KVM, QEMU's
// TIS model moves bytes through its registers and FIFO, the backend hands commands to the TPM, and the
// guest prints what it got. The labels are what e2e tests and screen readers look for. (State chart,
// Lanes, TPM decoder and Guest view are mounted from src/app/panels/ by components/ExternalPanels.tsx.)
export interface PanelSpec {
  title: string;
  role: string;
}

export const PANEL_ROLES = {
  vcpu: {
    title: 'vCPU',
    role: 'The guest instruction and KVM’s three steps for MMIO: exit, device access, re-entry.',
  },
  tis: {
    title: 'TIS registers',
    role: 'QEMU’s TIS: five localities, ACCESS, STS and the interrupt registers, bit by bit.',
  },
  fifo: {
    title: 'FIFO',
    role: 'The one command/response buffer all localities share, and rw_offset.',
  },
  backend: {
    title: 'Backend and TPM',
    role: 'The backend thread, the bottom half that delivers responses, and the TPM in its Web Worker.',
  },
  console: {
    title: 'Guest console',
    role: 'What the guest prints, stamped with virtual time like dmesg.',
  },
} as const satisfies Record<string, PanelSpec>;
