// The contract between the TIS frontend (this folder) and QEMU's TPM backend (src/core/backend), as
// QEMU's TPMBackendCmd, the tpm_backend_* calls the TIS makes, and TPMIfClass.request_completed.

export interface BackendCmd {
  locality: number;
  /** Command bytes: the first inLength bytes of the TIS buffer at the time of tpmGo. */
  input: Uint8Array;
  /** Filled by the backend with the response bytes before requestCompleted is called. */
  output: Uint8Array | null;
  /**
   * QEMU's cmd->selftest_done: tpm_util_is_selftest only recognises TPM 1.2's ContinueSelfTest (0x53), so
   * it stays false for TPM 2.0 commands.
   */
  selftestDone: boolean;
}

export interface TpmBackendPort {
  /** tpm_backend_deliver_request: the backend runs the command and later calls the frontend's requestCompleted. */
  deliverRequest(cmd: BackendCmd): void;
  /** tpm_backend_cancel_cmd */
  cancelCmd(): void;
  /** tpm_backend_get_tpm_established_flag */
  getTpmEstablishedFlag(): boolean;
  /** tpm_backend_reset_tpm_established_flag(locty) */
  resetTpmEstablishedFlag(locality: number): void;
  /** tpm_backend_get_buffer_size */
  getBufferSize(): number;
  /** 2 for TPM 2.0 */
  getTpmVersion(): 1 | 2;
  /** tpm_backend_reset + startup, as tpm_tis_reset calls them */
  reset(): void;
  /** tpm_backend_had_startup_error: the last startup (CMD_INIT and the rest) failed. */
  readonly hadStartupError: boolean;
}

export interface TpmFrontend {
  /** tpm_tis_request_completed(ret): called by the backend's bottom half, with cmd.output filled. */
  requestCompleted(cmd: BackendCmd, ret: number): void;
}
