// ECC key generation for the curves this TPM implements (NIST P-256 only, as GetCapability reports).
// The private scalar comes from the caller's random source as FIPS 186-4 Appendix B.4.1 ("key pair
// generation using extra random bits") prescribes and the reference code's BnEccGetPrivate does:
// c = 64 bits more than the order, d = (c mod (n − 1)) + 1. The public point Q = d·G comes from
// @noble/curves.
import { p256 } from '@noble/curves/nist.js';
import { ECC_CURVE } from '../constants';
import { bigIntToBytes, bytesToBigInt, type RandomBytes } from './rsa';

export interface EccCurve {
  id: number;
  name: string;
  /** Octets of a coordinate or scalar. */
  byteLength: number;
  /** The order n of the base point. */
  order: bigint;
  /** d·G as affine coordinates. */
  multiplyBase(d: bigint): { x: bigint; y: bigint };
  /** Whether (x, y) is a point on the curve (not the point at infinity). */
  isOnCurve(x: bigint, y: bigint): boolean;
}

const P256: EccCurve = {
  id: ECC_CURVE.NIST_P256,
  name: 'NIST P-256',
  byteLength: 32,
  order: p256.Point.Fn.ORDER,
  multiplyBase(d) {
    return p256.Point.BASE.multiply(d).toAffine();
  },
  isOnCurve(x, y) {
    try {
      p256.Point.fromAffine({ x, y }).assertValidity();
      return true;
    } catch {
      return false;
    }
  },
};

const CURVES = new Map<number, EccCurve>([[P256.id, P256]]);

/** The curve for a TPM_ECC_CURVE, or undefined when this TPM does not implement it. */
export function eccCurve(id: number): EccCurve | undefined {
  return CURVES.get(id);
}

export interface EccKeyPair {
  curve: EccCurve;
  d: bigint;
  /** Public point coordinates, big-endian, each curve.byteLength octets. */
  x: Uint8Array;
  y: Uint8Array;
}

/** FIPS 186-4 B.4.1: d in [1, n − 1] from byteLength + 8 random octets. */
export function generateEccKey(rng: RandomBytes, curve: EccCurve): EccKeyPair {
  const c = bytesToBigInt(rng.generate(curve.byteLength + 8));
  const d = (c % (curve.order - 1n)) + 1n;
  const q = curve.multiplyBase(d);
  return {
    curve,
    d,
    x: bigIntToBytes(q.x, curve.byteLength),
    y: bigIntToBytes(q.y, curve.byteLength),
  };
}
