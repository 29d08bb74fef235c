// Test support: the NV commands the persistence tests send (define a 32-byte index, write, read back).
import { buildCommand, pwSession } from '../tpm2/build';
import { CC, RH } from '../tpm2/constants';
import { fromHex } from '../tpm2/marshal';

export const STARTUP_CLEAR = fromHex('80010000000c000001440000');
export const NV_INDEX = 0x01500016;
export const NV_DATA = new TextEncoder().encode('kept across restarts');

export const nvDefine = () =>
  buildCommand({
    code: CC.NV_DefineSpace,
    handles: [RH.OWNER],
    sessions: [pwSession()],
    // auth, then TPM2B_NV_PUBLIC: index, sha256, ownerwrite|authwrite|ownerread|authread, no policy, 32 bytes
    params: (w) => w.u16(0).u16(14).u32(NV_INDEX).u16(0x000b).u32(0x00060006).u16(0).u16(32),
  });
export const nvWrite = () =>
  buildCommand({
    code: CC.NV_Write,
    handles: [NV_INDEX, NV_INDEX],
    sessions: [pwSession()],
    params: (w) => w.tpm2b(NV_DATA).u16(0),
  });
export const nvRead = () =>
  buildCommand({
    code: CC.NV_Read,
    handles: [NV_INDEX, NV_INDEX],
    sessions: [pwSession()],
    params: (w) => w.u16(NV_DATA.length).u16(0),
  });
