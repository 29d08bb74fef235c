export { Tpm2Engine, commandSpec, implementedCommands, errorResponse } from './engine';
export type { ExecuteOptions, ExecuteResult } from './engine';
export type { TpmConfig } from './context';
export { RC, TpmError, describeRc } from './rc';
export { CC, ST, SU, ALG, RH } from './constants';
export { TpmReader, TpmWriter, hex, fromHex } from './marshal';
