// How many handles each TPM 2.0 command carries in its handle area, and whether its response starts with
// a handle (TPM 2.0 Part 3, each command's "Command" and "Response" tables; the reference code's
// CommandAttributeData.h). The engine knows this for the commands it implements (commandSpec in
// src/core/tpm2/engine.ts), but the engine pulls the whole TPM (crypto, handlers) into whatever imports
// it, and the decoder runs in the page, whose initial JS has a size budget; the engine itself runs in its
// Worker. So this is a table of two numbers per command code, keyed by the engine's CC names, and
// tpm-layout.test.ts checks it against commandSpec for every command the engine implements.
import { CC } from '../../core/tpm2/constants';

export interface CommandLayout {
  handles: number;
  responseHandle: boolean;
}

type CcName = keyof typeof CC;

// [command handles, response handle]; commands missing here have no handles and no response handle.
const WITH_HANDLES: Partial<Record<CcName, readonly [number, boolean]>> = {
  NV_UndefineSpaceSpecial: [2, false],
  EvictControl: [2, false],
  HierarchyControl: [1, false],
  NV_UndefineSpace: [2, false],
  ChangeEPS: [1, false],
  ChangePPS: [1, false],
  Clear: [1, false],
  ClearControl: [1, false],
  ClockSet: [1, false],
  HierarchyChangeAuth: [1, false],
  NV_DefineSpace: [1, false],
  PCR_Allocate: [1, false],
  PCR_SetAuthPolicy: [1, false],
  PP_Commands: [1, false],
  SetPrimaryPolicy: [1, false],
  FieldUpgradeStart: [2, false],
  ClockRateAdjust: [1, false],
  CreatePrimary: [1, true],
  NV_GlobalWriteLock: [1, false],
  GetCommandAuditDigest: [2, false],
  NV_Increment: [2, false],
  NV_SetBits: [2, false],
  NV_Extend: [2, false],
  NV_Write: [2, false],
  NV_WriteLock: [2, false],
  DictionaryAttackLockReset: [1, false],
  DictionaryAttackParameters: [1, false],
  NV_ChangeAuth: [1, false],
  PCR_Event: [1, false],
  PCR_Reset: [1, false],
  SequenceComplete: [1, false],
  SetAlgorithmSet: [1, false],
  SetCommandCodeAuditStatus: [1, false],
  ActivateCredential: [2, false],
  Certify: [2, false],
  PolicyNV: [3, false],
  CertifyCreation: [2, false],
  Duplicate: [2, false],
  GetTime: [2, false],
  GetSessionAuditDigest: [3, false],
  NV_Read: [2, false],
  NV_ReadLock: [2, false],
  ObjectChangeAuth: [2, false],
  PolicySecret: [2, false],
  Rewrap: [2, false],
  Create: [1, false],
  ECDH_ZGen: [1, false],
  HMAC: [1, false],
  Import: [1, false],
  Load: [1, true],
  Quote: [1, false],
  RSA_Decrypt: [1, false],
  HMAC_Start: [1, true],
  SequenceUpdate: [1, false],
  Sign: [1, false],
  Unseal: [1, false],
  PolicySigned: [2, false],
  ContextLoad: [0, true],
  ContextSave: [1, false],
  ECDH_KeyGen: [1, false],
  EncryptDecrypt: [1, false],
  LoadExternal: [0, true],
  MakeCredential: [1, false],
  NV_ReadPublic: [1, false],
  PolicyAuthorize: [1, false],
  PolicyAuthValue: [1, false],
  PolicyCommandCode: [1, false],
  PolicyCounterTimer: [1, false],
  PolicyCpHash: [1, false],
  PolicyLocality: [1, false],
  PolicyNameHash: [1, false],
  PolicyOR: [1, false],
  PolicyTicket: [1, false],
  ReadPublic: [1, false],
  RSA_Encrypt: [1, false],
  StartAuthSession: [2, true],
  VerifySignature: [1, false],
  PolicyPCR: [1, false],
  PolicyRestart: [1, false],
  PCR_Extend: [1, false],
  PCR_SetAuthValue: [1, false],
  NV_Certify: [3, false],
  EventSequenceComplete: [2, false],
  HashSequenceStart: [0, true],
  PolicyPhysicalPresence: [1, false],
  PolicyDuplicationSelect: [1, false],
  PolicyGetDigest: [1, false],
  Commit: [1, false],
  PolicyPassword: [1, false],
  ZGen_2Phase: [1, false],
  PolicyNvWritten: [1, false],
  PolicyTemplate: [1, false],
  CreateLoaded: [1, true],
  PolicyAuthorizeNV: [3, false],
  EncryptDecrypt2: [1, false],
};

const NAME_BY_CODE = new Map<number, CcName>(
  Object.entries(CC).map(([name, code]) => [code, name as CcName]),
);

/** The command's name without the TPM2_ prefix ("CreatePrimary"), or undefined for an unknown code. */
export function ccName(code: number): string | undefined {
  return NAME_BY_CODE.get(code);
}

/** The handle layout of a command code, or undefined when the code is not a TPM 2.0 command. */
export function commandLayout(code: number): CommandLayout | undefined {
  const name = NAME_BY_CODE.get(code);
  if (name === undefined) return undefined;
  const entry = WITH_HANDLES[name];
  return { handles: entry?.[0] ?? 0, responseHandle: entry?.[1] ?? false };
}
