import { readFileSync } from 'node:fs';

export interface VersionInfo {
  name: string;
  version: string;
}

export function readVersion(): VersionInfo {
  const pkgUrl = new URL('../../package.json', import.meta.url);
  const pkg = JSON.parse(readFileSync(pkgUrl, 'utf8')) as { name: string; version: string };
  return { name: pkg.name, version: pkg.version };
}
