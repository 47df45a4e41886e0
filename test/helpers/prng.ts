// A seeded PRNG for reproducible random tests.

export type Rand = () => number;

/** mulberry32: small, fast, and good enough to explore inputs reproducibly. */
export function mulberry32(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `bytes` reproducible bytes from `seed` (streams both ends of a transfer can regenerate). */
export function seededBytes(bytes: number, seed: number): Uint8Array {
  const rand = mulberry32(seed);
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4) {
    const v = (rand() * 2 ** 32) >>> 0;
    out[i] = v & 0xff; out[i + 1] = (v >>> 8) & 0xff; out[i + 2] = (v >>> 16) & 0xff; out[i + 3] = v >>> 24;
  }
  return out;
}
