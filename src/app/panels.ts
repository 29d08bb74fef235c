// The panel regions of the page, in the order the story flows: the guest's vCPU traps into KVM, QEMU's
// TIS model moves bytes through its FIFO, the backend hands commands to the TPM, and the timeline and the
// guest console show what happened. Later issues fill each region; the labels are what e2e tests look for.
export interface PanelSpec {
  title: string;
  role: string;
  empty: string;
  area: string;
}

export const PANELS: readonly PanelSpec[] = [
  {
    title: 'vCPU',
    role: 'Guest instructions and KVM exits: decode, exit to the device model, re-enter to retire.',
    empty: 'No vCPU yet: load a machine to see its registers and the MMIO access in flight.',
    area: 'lg:col-span-1',
  },
  {
    title: 'TIS registers',
    role: 'QEMU’s TIS interface: five localities, ACCESS and STS, the command state machine.',
    empty: 'No TIS device yet: its registers appear here once a machine is loaded.',
    area: 'lg:col-span-1',
  },
  {
    title: 'FIFO buffer',
    role: 'The single command/response buffer shared by all localities and its rw_offset.',
    empty: 'The buffer is empty.',
    area: 'lg:col-span-1',
  },
  {
    title: 'Backend and TPM',
    role: 'The backend thread, the swtpm-style TPM engine, and the bottom half that delivers responses.',
    empty: 'No TPM attached.',
    area: 'lg:col-span-1',
  },
  {
    title: 'Timeline',
    role: 'Every event in virtual time, from MMIO exit to bottom half, with the cut points you can migrate at.',
    empty: 'The trace is empty: nothing has run yet.',
    area: 'lg:col-span-2',
  },
  {
    title: 'Guest console',
    role: 'What the guest prints, stamped with virtual time like dmesg.',
    empty: 'The guest has printed nothing.',
    area: 'lg:col-span-2',
  },
];
