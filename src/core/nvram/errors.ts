/** Why the blobstore refused or failed, for code that reacts (the message is for people). */
export type NvramErrorReason =
  /** Called in the wrong phase or with a bad argument (register after start, read before start...). */
  | 'usage'
  /** A name that was never registered. */
  | 'unknown-blob'
  /** A write larger than the blob's registered maximum size. */
  | 'too-large'
  /** The registered blobs, or the drive id, differ from what the drive was formatted with. */
  | 'mismatch'
  /** The drive holds something that is not an NVRAM of ours. */
  | 'foreign'
  /** The drive's directory, or a blob's bytes, do not check out. */
  | 'damaged'
  /** The drive was formatted by a newer format version. */
  | 'version'
  /** The drive is too small for the registered blobs. */
  | 'too-small'
  /** The drive itself failed a read, write or flush. */
  | 'io';

export class NvramError extends Error {
  constructor(
    readonly reason: NvramErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NvramError';
  }
}
