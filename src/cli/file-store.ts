// swtpm's dir backend (--tpmstate dir=D) for `tislab tpm-server --state-dir D`: one file per state blob,
// named as swtpm names them (tpm2-00.permall, tpm2-00.volatilestate), so permanent state survives a
// restart of the server. Like swtpm_nvstore_dir.c, a file is written to a temporary name, synced and
// renamed over the old one, so a crash leaves either the old or the new state, never half of one.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import type { StateStore } from '../core/swtpm';

export class FileStateStore implements StateStore {
  /** Creates the directory (and its parents) if it does not exist. */
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  load(name: string): Uint8Array | undefined {
    try {
      return new Uint8Array(readFileSync(this.path(name)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  save(name: string, bytes: Uint8Array): void {
    const target = this.path(name);
    const temp = join(this.dir, `.${name}.${process.pid}.tmp`);
    const fd = openSync(temp, 'w', 0o640);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
  }

  delete(name: string): void {
    rmSync(this.path(name), { force: true });
  }

  private path(name: string): string {
    // The device only uses swtpm's fixed file names; anything with a path in it is a bug.
    if (name === '' || basename(name) !== name || name.startsWith('.')) {
      throw new Error(`state file name ${JSON.stringify(name)} is not a plain file name`);
    }
    return join(this.dir, name);
  }
}
