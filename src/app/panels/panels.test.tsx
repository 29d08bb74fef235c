// Render tests of the four panels without a DOM: react-dom/server renders them to markup (the repo has no
// jsdom or testing-library), and the tests read what a user would see there. Interaction (hover, scroll)
// is checked in the browser on the dev page (src/app/dev/).
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { createPrimaryEcc } from '../../core/guest/workload-commands';
import type { TraceEvent } from '../../core/kernel/trace';
import { GuestViewPanel } from './GuestViewPanel';
import { LanesPanel } from './LanesPanel';
import { StateChartPanel } from './StateChartPanel';
import { TpmDecoderPanel } from './TpmDecoderPanel';

const regionName = (html: string): string | undefined => {
  const id = /<section aria-labelledby="([^"]+)"/.exec(html)?.[1];
  return id ? new RegExp(`<h2 id="${id}"[^>]*>([^<]*)</h2>`).exec(html)?.[1] : undefined;
};

const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');

describe('StateChartPanel', () => {
  const html = renderToStaticMarkup(
    <StateChartPanel
      active={['tis.locality.l0', 'tis.abort.clear', 'tis.cmd0.execution', 'cmd1.idle', 'registers.file']}
      lastTransition={{ from: 'cmd0.reception', to: 'cmd0.execution', event: 'mmio.write' }}
    />,
  );

  it('is the region "State chart" with every region of the machine', () => {
    expect(regionName(html)).toBe('State chart');
    for (const r of ['locality', 'abort', 'cmd0', 'cmd4', 'registers'])
      expect(html).toContain(`aria-label="Region ${r}`);
  });

  it('lights the active states with a mark that is not only colour, and names the last transition', () => {
    expect(html).toContain('data-state="cmd0.execution" data-active="true" aria-current="true"');
    expect(html).toMatch(/aria-label="execution \(active, entered by the last transition\)"/);
    expect(html).toMatch(/aria-label="reception \(left by the last transition\)"/);
    expect(html).not.toContain('data-state="cmd0.idle" data-active');
    expect(text(html)).toContain('Last transition: cmd0.reception → cmd0.execution on mmio.write');
    expect(html.match(/data-last="true"/g)).toHaveLength(1);
  });
});

describe('LanesPanel', () => {
  const events: TraceEvent[] = Array.from({ length: 100_000 }, (_, i) => ({
    t: i * 500,
    seq: i,
    source: i % 2 ? 'kvm' : 'tis',
    kind: i % 2 ? 'kvm_run' : 'tpm_tis_data_read',
    data: { off: i, value: 0 },
  }));

  it('is the region "Lanes" with the seven lanes as columns', () => {
    const html = renderToStaticMarkup(<LanesPanel events={[]} markers={[]} />);
    expect(regionName(html)).toBe('Lanes');
    expect(text(html)).toContain(
      'vCPU KVM QEMU TIS backend thread main loop (bottom half) TPM worker migration',
    );
    expect(text(html)).toContain('The trace is empty');
  });

  it('renders only a window of rows for 100k events', () => {
    const html = renderToStaticMarkup(<LanesPanel events={events} markers={[{ t: 100, label: 'savevm' }]} />);
    const rows = html.match(/data-seq="/g) ?? [];
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(40);
    expect(text(html)).toContain('100,000 events, 1 marker');
    expect(html).toContain(`height:${100_001 * 22}px`);
  });
});

describe('TpmDecoderPanel', () => {
  it('is the region "TPM decoder" showing the command’s fields and hex', () => {
    const html = renderToStaticMarkup(<TpmDecoderPanel command={createPrimaryEcc()} response={null} />);
    expect(regionName(html)).toBe('TPM decoder');
    expect(text(html)).toContain('TPM2_CreatePrimary command');
    expect(text(html)).toContain('commandCode = TPM2_CreatePrimary (0x00000131)');
    expect(text(html)).toContain('No response yet.');
    expect(html).toMatch(/>80<\/span><span[^>]*>02</);
  });

  it('marks a truncated response without failing', () => {
    const html = renderToStaticMarkup(
      <TpmDecoderPanel command={createPrimaryEcc()} response={new Uint8Array([0x80, 0x02, 0, 0, 1])} />,
    );
    expect(text(html)).toContain('⚠ malformed');
    expect(text(html)).toContain('truncated: needs 4 bytes, 3 left');
  });
});

describe('GuestViewPanel', () => {
  const truth = [
    0x80, 0x01, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef,
  ];
  const received = [...truth.slice(0, 12), ...truth.slice(13), 0xff];

  it('is the region "Guest view" with the lost byte and the trailing 0xff marked in words, and the error', () => {
    const html = renderToStaticMarkup(
      <GuestViewPanel received={received} truth={truth} error="tpm_transmit: tpm_recv: error -5" />,
    );
    expect(regionName(html)).toBe('Guest view');
    expect(text(html)).toContain('Driver error: tpm_transmit: tpm_recv: error -5');
    expect(text(html)).toContain('missing byte 12 (0xde)');
    expect(text(html)).toContain('1 trailing byte (0xff)');
    expect(html).toContain('data-kind="missing"');
    expect(html).toContain('data-kind="trailing"');
    // Marked with words for screen readers and symbols on screen, not only colour.
    expect(text(html)).toContain('✕ missing');
    expect(text(html)).toContain('…+ trailing');
  });

  it('mid-read, says how far the guest has got rather than calling the rest missing', () => {
    const html = renderToStaticMarkup(
      <GuestViewPanel received={truth.slice(0, 6)} truth={truth} error={null} />,
    );
    expect(text(html)).toContain(
      'The guest has read 6 of the 16 bytes the TPM sent, all as sent; 10 bytes not read (yet).',
    );
    expect(html).not.toContain('data-kind="missing"');
    expect(html.match(/data-kind="unread"/g)).toHaveLength(10);
  });

  it('says so when the guest got exactly what the TPM sent', () => {
    const html = renderToStaticMarkup(<GuestViewPanel received={truth} truth={truth} error={null} />);
    expect(text(html)).toContain('The guest received exactly the 16 bytes the TPM sent.');
    expect(html).not.toContain('Driver error');
  });
});
