// The TPM Worker's NVRAM: by default the TPM's permanent state lives in IndexedDB, so an NV index
// survives a page reload; an init can ask for memory; no IndexedDB, one that fails to open, or one
// another page is using gives a TPM in memory and an init answer that says why. The host runs behind a
// real MessageChannel (structured clone, as between a page and its Worker) on fake-indexeddb: one
// IDBFactory stands for the page's origin, so stopping the host and serving again on the same factory
// is a page reload.
import { IDBFactory } from 'fake-indexeddb';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { IndexedDbDrive } from '../app/storage/indexeddb-drive';
import { MessageTransport } from '../core/backend/message-transport';
import { serveTpm } from '../core/backend/tpm-host';
import type { MessageEndpoint, TpmWorkerOptions, TpmWorkerResponse } from '../core/backend/tpm-messages';
import { STARTUP_CLEAR, nvDefine, nvRead, nvWrite } from '../core/swtpm/nv-test-commands';
import { parseResponse } from '../core/tpm2/build';
import { RC } from '../core/tpm2/rc';
import {
  openIndexedDbTpmDrive,
  type IndexedDbTpmDriveEnv,
  type LockManagerLike,
} from './indexeddb-tpm-drive';

function endpoint(port: MessagePort): MessageEndpoint {
  return {
    postMessage: (m) => port.postMessage(m),
    subscribe(listener) {
      port.on('message', listener);
      return () => port.off('message', listener);
    },
  };
}

interface Page {
  /** The init answer, as the Worker sent it. */
  ready: TpmWorkerResponse;
  transport: MessageTransport;
  /** The page goes away: the Worker stops serving and lets go of its drive. */
  unload(): Promise<void>;
}

const pages: Page[] = [];
afterEach(async () => {
  for (const p of pages.splice(0)) await p.unload();
});

/** A page that starts the TPM Worker in an environment and sends init with these options. */
async function loadPage(env: IndexedDbTpmDriveEnv, options: TpmWorkerOptions): Promise<Page> {
  const { port1, port2 } = new MessageChannel();
  const stopServing = serveTpm(endpoint(port2), {
    openDrive: (name, sizeBytes) => openIndexedDbTpmDrive(name, sizeBytes, env),
  });
  // The raw init first, to read the whole answer; then the simulation's own client on the same port.
  const page = endpoint(port1);
  const ready = await new Promise<TpmWorkerResponse>((resolve) => {
    const off = page.subscribe((m) => {
      off();
      resolve(m as TpmWorkerResponse);
    });
    page.postMessage({ id: 1000, kind: 'init', options });
  });
  const transport = await MessageTransport.open(page, options);
  let unloaded = false;
  const p: Page = {
    ready,
    transport,
    async unload() {
      if (unloaded) return;
      unloaded = true;
      transport.close();
      await stopServing();
      port1.close();
      port2.close();
    },
  };
  pages.push(p);
  return p;
}

async function rc(page: Page, command: Uint8Array): Promise<number> {
  return parseResponse((await page.transport.command(command)).response).rc;
}

async function nvData(page: Page): Promise<string | undefined> {
  const r = parseResponse((await page.transport.command(nvRead())).response);
  if (r.rc !== RC.SUCCESS) return undefined;
  r.body.u32();
  return new TextDecoder().decode(r.body.tpm2b(1024));
}

async function defineAndWrite(page: Page): Promise<void> {
  expect(await rc(page, STARTUP_CLEAR)).toBe(RC.SUCCESS);
  expect(await rc(page, nvDefine())).toBe(RC.SUCCESS);
  expect(await rc(page, nvWrite())).toBe(RC.SUCCESS);
}

/** An IndexedDB that cannot be opened, as in Firefox's private mode. */
function privateModeFactory(): IDBFactory {
  const factory = new IDBFactory();
  factory.open = () => {
    throw new DOMException(
      'A mutation operation was attempted on a database that did not allow mutations.',
      'InvalidStateError',
    );
  };
  return factory;
}

/** navigator.locks shared by the pages of one origin: exclusive, ifAvailable. */
function lockManager(): LockManagerLike {
  const held = new Set<string>();
  return {
    async request(name, _options, callback) {
      if (held.has(name)) return callback(null);
      held.add(name);
      try {
        return await callback({ name });
      } finally {
        held.delete(name);
      }
    },
  };
}

describe('TPM Worker NVRAM', () => {
  it('keeps the TPM in IndexedDB by default: an NV index survives a page reload', async () => {
    const origin = { factory: new IDBFactory(), locks: lockManager() };
    const first = await loadPage(origin, { seed: 'reload' }); // an init from before the nvram option
    expect(first.ready).toEqual({
      id: 1000,
      kind: 'ready',
      nvram: { kind: 'persistent', name: 'tislab-tpm-nvram' },
    });
    await defineAndWrite(first);
    await first.unload();

    const reloaded = await loadPage(origin, { seed: 'reload' });
    expect(await rc(reloaded, STARTUP_CLEAR)).toBe(RC.SUCCESS);
    expect(await nvData(reloaded)).toBe('kept across restarts');
  }, 20_000);

  it('with nvram "memory" the TPM is thrown away with the page, and IndexedDB is not touched', async () => {
    const origin = { factory: new IDBFactory(), locks: lockManager() };
    const first = await loadPage(origin, { seed: 'memory', nvram: 'memory' });
    expect(first.ready).toEqual({ id: 1000, kind: 'ready', nvram: { kind: 'memory' } });
    await defineAndWrite(first);
    await first.unload();
    expect(await origin.factory.databases()).toEqual([]);

    const reloaded = await loadPage(origin, { seed: 'memory', nvram: 'memory' });
    expect(await rc(reloaded, STARTUP_CLEAR)).toBe(RC.SUCCESS);
    expect(await nvData(reloaded)).toBeUndefined();
  }, 20_000);

  it('two NVRAMs by name do not mix', async () => {
    const origin = { factory: new IDBFactory(), locks: lockManager() };
    const a = await loadPage(origin, { seed: 's', nvramName: 'machine-a' });
    expect(a.ready).toMatchObject({ nvram: { kind: 'persistent', name: 'machine-a' } });
    await defineAndWrite(a);
    const b = await loadPage(origin, { seed: 's', nvramName: 'machine-b' });
    expect(await rc(b, STARTUP_CLEAR)).toBe(RC.SUCCESS);
    expect(await nvData(b)).toBeUndefined();
  }, 20_000);

  it.each([
    ['no IndexedDB at all', { factory: undefined }, /^IndexedDB is not available in this browser context\. /],
    ['IndexedDB refusing to open (private mode)', { factory: privateModeFactory() }, /InvalidStateError/],
  ])(
    '%s: the TPM runs in memory and the init answer says why',
    async (_, env, why) => {
      const page = await loadPage(env, { seed: 'fallback' });
      expect(page.ready).toMatchObject({ kind: 'ready', nvram: { kind: 'memory' } });
      const nvram = (page.ready as { nvram: { fallback: string } }).nvram;
      expect(nvram.fallback).toMatch(why);
      expect(nvram.fallback).toMatch(
        /The TPM keeps its state in memory and forgets it when the page goes\.$/,
      );
      await defineAndWrite(page);
      expect(await nvData(page)).toBe('kept across restarts');
    },
    20_000,
  );

  it('a second page on the same NVRAM gets a TPM in memory, not a share of the first one’s drive', async () => {
    const origin = { factory: new IDBFactory(), locks: lockManager() };
    const first = await loadPage(origin, { seed: 'tabs' });
    const second = await loadPage(origin, { seed: 'tabs' });
    expect(second.ready).toMatchObject({
      nvram: {
        kind: 'memory',
        fallback: expect.stringMatching(/^another page is running a TPM on the NVRAM "tislab-tpm-nvram"/),
      },
    });
    await defineAndWrite(first);
    // Once the first page is gone, the next one has the NVRAM, with what the first page wrote.
    await first.unload();
    const third = await loadPage(origin, { seed: 'tabs' });
    expect(third.ready).toMatchObject({ nvram: { kind: 'persistent' } });
    expect(await rc(third, STARTUP_CLEAR)).toBe(RC.SUCCESS);
    expect(await nvData(third)).toBe('kept across restarts');
  }, 20_000);

  it('an IndexedDB NVRAM that does not check out is left as it is; the TPM runs in memory', async () => {
    const origin = { factory: new IDBFactory() };
    const other = await IndexedDbDrive.open({
      name: 'tislab-tpm-nvram',
      sizeBytes: 1000,
      factory: origin.factory,
    });
    other.close();
    const page = await loadPage(origin, { seed: 'odd' });
    expect(page.ready).toMatchObject({
      nvram: { kind: 'memory', fallback: expect.stringMatching(/holds 1000 bytes in chunks of 4096/) },
    });
    expect(await rc(page, STARTUP_CLEAR)).toBe(RC.SUCCESS);
  });

  it('an init with an unknown nvram kind is an error answer, not a crash', async () => {
    const origin = { factory: new IDBFactory() };
    await expect(loadPage(origin, { seed: 'x', nvram: 'cloud' as unknown as 'memory' })).rejects.toThrow(
      /nvram must be 'persistent' or 'memory', not "cloud"/,
    );
  });
});
