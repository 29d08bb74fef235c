// Real QEMU's TIS, driven through QEMU's qtest protocol: qemu-system-x86_64 with its vCPUs stopped (-S)
// and `-qtest stdio`, a tpm-tis device and swtpm behind it (the Debian packages qemu-system-x86 and
// swtpm). readb/readw/readl and writeb/writew/writel go straight to the MMIO region, as QEMU's own
// tests/qtest/tpm-tis-test.c does. Used to compare our TIS model with QEMU's, access by access.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SUFFIX = { 1: 'b', 2: 'w', 4: 'l' } as const;

export class QemuTis {
  private buffered = '';
  private waiting: Array<(line: string) => void> = [];

  private constructor(
    private readonly qemu: ChildProcess,
    private readonly swtpm: ChildProcess,
    private readonly dir: string,
  ) {
    qemu.stdout!.setEncoding('utf8');
    qemu.stdout!.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl).trim();
        this.buffered = this.buffered.slice(nl + 1);
        if (line.startsWith('OK') || line.startsWith('ERR') || line.startsWith('FAIL'))
          this.waiting.shift()?.(line);
      }
    });
  }

  /** Starts swtpm (ctrl on a unix socket, as libvirt does) and QEMU with a tpm-tis in front of it. */
  static async start(): Promise<QemuTis> {
    const dir = mkdtempSync(join(tmpdir(), 'tislab-qemu-'));
    const sock = join(dir, 'swtpm-sock');
    const swtpm = spawn(
      'swtpm',
      [
        'socket',
        '--tpm2',
        '--ctrl',
        `type=unixio,path=${sock}`,
        '--tpmstate',
        `dir=${dir}`,
        '--flags',
        'startup-clear',
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    const qemu = spawn(
      'qemu-system-x86_64',
      [
        ...['-machine', 'q35', '-accel', 'tcg', '-S', '-display', 'none', '-nodefaults'],
        ...['-qtest', 'stdio', '-qtest-log', '/dev/null'],
        ...['-chardev', `socket,id=chrtpm,path=${sock}`, '-tpmdev', 'emulator,id=tpm0,chardev=chrtpm'],
        ...['-device', 'tpm-tis,tpmdev=tpm0'],
      ],
      { stdio: ['pipe', 'pipe', 'ignore'] },
    );
    return new QemuTis(qemu, swtpm, dir);
  }

  private command(cmd: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`QEMU did not answer '${cmd}' within 5 s`)), 5000);
      this.waiting.push((line) => {
        clearTimeout(timer);
        if (line.startsWith('OK')) resolve(line);
        else reject(new Error(`QEMU answered '${line}' to '${cmd}'`));
      });
      this.qemu.stdin!.write(cmd + '\n');
    });
  }

  async read(addr: number, size: 1 | 2 | 4): Promise<number> {
    const line = await this.command(`read${SUFFIX[size]} 0x${addr.toString(16)}`);
    return Number(BigInt(line.split(/\s+/)[1]!)) >>> 0;
  }

  async write(addr: number, size: 1 | 2 | 4, value: number): Promise<void> {
    await this.command(`write${SUFFIX[size]} 0x${addr.toString(16)} 0x${(value >>> 0).toString(16)}`);
  }

  stop(): void {
    this.qemu.kill();
    this.swtpm.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
