// float32 -> float16 rounding for philoxFill's float16 output (docs/philox.md §6), tuned for fills.
//
// The common case (a result in the normal float16 range) is branch-free round-to-nearest-even on
// the bits; zeros, subnormals, overflow and NaN go to fp.ts's general conversion. fp.ts's cast
// branches on the rounding direction, which random data mispredicts half of the time.

import { f16BitsFromF32Bits } from './fp.js'

/** Cast n float32 values (given as their bits) to binary16 bits, round to nearest even. */
export function castF32BitsToF16Fast (src: Uint32Array, dst: Uint16Array, dstOff: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = src[i]!
    const abs = x & 0x7fffffff
    // Normal float16 results: 2^-14 <= |x| < 65520 (which rounds to at most 65504).
    dst[dstOff + i] = abs >= 0x38800000 && abs < 0x477ff000
      ? ((x >>> 16) & 0x8000) | ((abs - 0x38000000 + 0xfff + ((abs >>> 13) & 1)) >>> 13)
      : f16BitsFromF32Bits(x)
  }
}
