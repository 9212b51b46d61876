// Exhaustive proof that the fast batch kernel equals the exact lane emulation (every contracted
// site an exact fma32) on the whole domain: all 2^24 values of u1 and all 2^24 values of u2.
import t from 'tap'

import { logPs, sincosPs } from '../../src/init/avx-mathfun.js'
import { fma32 } from '../../src/init/fp.js'
import { computeLanes, laneBlocks, laneResults, normalFillAvx2 } from '../../src/init/normal-fill-avx2.js'

const fround = Math.fround
const twoPiF = fround(2 * Math.PI)
const domain = 1 << 24
// Lane p draws u1 index p and u2 index (p * odd) mod 2^24: one pass covers both domains fully.
const odd = 0x9e3779b1

t.test('fast normal_fill_16_AVX2 lanes equal the exact emulation for all 2^24 u1 and u2', async t => {
  const u = new Uint32Array(laneBlocks * 16)
  const sc = new Float64Array(2)
  let bad = 0
  for (let lane0 = 0; lane0 < domain; lane0 += laneBlocks * 8) {
    for (let b = 0; b < laneBlocks; b++) {
      for (let j = 0; j < 8; j++) {
        const p = lane0 + b * 8 + j
        u[b * 16 + j] = p | (0xab << 24) // high bits must be ignored
        u[b * 16 + j + 8] = Math.imul(p, odd) & 0xffffff
      }
    }
    computeLanes(u, 0, laneBlocks)
    for (let q = 0; q < laneBlocks * 8; q++) {
      const b = q >>> 3; const j = q & 7
      const u1 = 1 - (u[b * 16 + j]! & 0xffffff) * 2 ** -24
      const u2 = (u[b * 16 + j + 8]! & 0xffffff) * 2 ** -24
      const radius = fround(Math.sqrt(fround(-2 * logPs(u1))))
      sincosPs(fround(twoPiF * u2), sc)
      if (!Object.is(radius, laneResults.radius[q]) || !Object.is(sc[0], laneResults.sin[q]) ||
        !Object.is(sc[1], laneResults.cos[q])) {
        if (bad++ < 10) t.fail(`lane u1=${u1} u2=${u2}`)
      }
    }
  }
  t.equal(bad, 0, `${domain} lanes`)
})

t.test('outputs: exact fma32 for mean != 0, plain product for mean == 0', async t => {
  const nb = 64
  const u = Uint32Array.from({ length: nb * 16 }, (_, i) => (Math.imul(i + 1, 0x9e3779b1) >>> 0))
  for (const [mean, std] of [[0, 1], [0, 0.02], [0.25, 0.02], [-1.5, 3.3], [1e-7, 1e7]] as Array<[number, number]>) {
    const out = new Float32Array(nb * 16)
    normalFillAvx2(u, nb, out, 0, fround(mean), fround(std))
    const sc = new Float64Array(2)
    let bad = 0
    for (let b = 0; b < nb; b++) {
      for (let j = 0; j < 8; j++) {
        const u1 = 1 - (u[b * 16 + j]! & 0xffffff) * 2 ** -24
        const u2 = (u[b * 16 + j + 8]! & 0xffffff) * 2 ** -24
        const r = fround(Math.sqrt(fround(-2 * logPs(u1))))
        sincosPs(fround(twoPiF * u2), sc)
        if (!Object.is(out[b * 16 + j], fma32(fround(r * sc[1]!), fround(std), fround(mean)))) bad++
        if (!Object.is(out[b * 16 + j + 8], fma32(fround(r * sc[0]!), fround(std), fround(mean)))) bad++
      }
    }
    t.equal(bad, 0, `mean ${mean}, std ${std}`)
  }
})
