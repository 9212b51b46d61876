// float32 `base ** exponents` as PyTorch computes it on an AVX-512 CPU: the vectorized loop
// (ATen's vectorized_loop, 2 × 16 floats a step) calls SLEEF's powf16_u10 (within 1 ULP, not
// correctly rounded), and the elements after the last full step go through std::pow (libm's
// powf, taken here as correctly rounded). The SLEEF routine is ported operation for operation from
// src/libm/sleefsimdsp.c (xpowf, logkf, expkf, AVX-512 build: getexp/getmant, FMA) and
// src/common/df.h (float-float arithmetic, ENABLE_FMA_SP) of https://github.com/shibatch/sleef,
// each float operation rounded to float32. Only positive finite bases are needed (rope_theta).

const f32 = Math.fround
const add = (a: number, b: number): number => f32(a + b)
const sub = (a: number, b: number): number => f32(a - b)
const mul = (a: number, b: number): number => f32(a * b)

const scratch = new Float64Array(1)
const words = new Uint32Array(scratch.buffer)

/** fma(a, b, c) rounded once to float32: the double sum rounded to odd, then to float32. */
function fma (a: number, b: number, c: number): number {
  const p = a * b // exact: two 24-bit significands
  const s = p + c
  const bb = s - p
  const err = (p - (s - bb)) + (c - bb)
  if (err === 0 || !Number.isFinite(s)) return f32(s)
  scratch[0] = s
  if (((words[0] as number) & 1) === 0) {
    // step one double ULP toward the exact value: the result is odd, so it rounds to float32 once
    const up = (err > 0) === (s > 0)
    if (up) {
      words[0] = (words[0] as number) + 1
    } else if (words[0] === 0) {
      words[0] = 0xffffffff
      words[1] = (words[1] as number) - 1
    } else {
      words[0] = (words[0] as number) - 1
    }
  }
  return f32(scratch[0] as number)
}
const fmapn = (x: number, y: number, z: number): number => fma(x, y, -z)
const fmanp = (x: number, y: number, z: number): number => fma(-x, y, z)

type F2 = readonly [number, number]

const dfnormalize = ([x, y]: F2): F2 => { const s = add(x, y); return [s, add(sub(x, s), y)] }
const dfscale = ([x, y]: F2, s: number): F2 => [mul(x, s), mul(y, s)]
const dfadd2ff = (x: number, y: number): F2 => {
  const s = add(x, y); const v = sub(s, x)
  return [s, add(sub(x, sub(s, v)), sub(y, v))]
}
const dfadd2f2f = ([xx, xy]: F2, y: number): F2 => {
  const s = add(xx, y); const v = sub(s, xx)
  const t = add(sub(xx, sub(s, v)), sub(y, v))
  return [s, add(t, xy)]
}
const dfaddff2 = (x: number, [yx, yy]: F2): F2 => { const s = add(x, yx); return [s, add(add(sub(x, s), yx), yy)] }
const dfaddf2f2 = ([xx, xy]: F2, [yx, yy]: F2): F2 => {
  const s = add(xx, yx)
  return [s, add(add(add(sub(xx, s), yx), xy), yy)]
}
const dfadd2f2f2 = ([xx, xy]: F2, [yx, yy]: F2): F2 => {
  const s = add(xx, yx); const v = sub(s, xx)
  const t = add(sub(xx, sub(s, v)), sub(yx, v))
  return [s, add(t, add(xy, yy))]
}
const dfdiv = ([nx, ny]: F2, [dx, dy]: F2): F2 => {
  const t = f32(1 / dx)
  const s = mul(nx, t)
  const u = fmapn(t, nx, s)
  const v = fmanp(dy, t, fmanp(dx, t, 1))
  return [s, fma(s, v, fma(ny, t, u))]
}
const dfsqu = ([x, y]: F2): F2 => { const s = mul(x, x); return [s, fma(add(x, x), y, fmapn(x, x, s))] }
const dfmulf2f2 = ([xx, xy]: F2, [yx, yy]: F2): F2 => {
  const s = mul(xx, yx)
  return [s, fma(xx, yy, fma(xy, yx, fmapn(xx, yx, s)))]
}
const dfmulf2f = ([xx, xy]: F2, y: number): F2 => { const s = mul(xx, y); return [s, fma(xy, y, fmapn(xx, y, s))] }

const f32bits = new Float32Array(1)
const f32word = new Uint32Array(f32bits.buffer)

/** floor(log2(v)) of a positive normal float (_mm512_getexp_ps): its exponent field */
function getexp (v: number): number {
  f32bits[0] = v
  return (((f32word[0] as number) >>> 23) & 0xff) - 127
}

/** the significand scaled into [0.75, 1.5) (_mm512_getmant_ps, _MM_MANT_NORM_p75_1p5) */
function getmant (d: number): number {
  const e = getexp(d)
  const m = d / Math.pow(2, e) // in [1, 2), exact
  return m >= 1.5 ? m / 2 : m
}

const C = {
  rcp075: f32(1 / 0.75),
  t0: f32(0.2403203547000885),
  t1: f32(0.285112679004669189453125),
  t2: f32(0.4000079929828644),
  c: [f32(0.66666662693023681640625), f32(3.69183861259614332084311e-09)] as F2,
  ln2: [f32(0.69314718246459960938), f32(-1.904654323148236017e-09)] as F2,
  rln2: f32(1.4426950408889634),
  l2u: f32(0.693145751953125),
  l2l: f32(1.428606765330187045e-06),
  e0: f32(0.00136324646882712841033936),
  e1: f32(0.00836596917361021041870117),
  e2: f32(0.0416710823774337768554688),
  e3: f32(0.166665524244308471679688),
  e4: f32(0.499999850988388061523438)
}

function logkf (d: number): F2 {
  const e = getexp(mul(d, C.rcp075))
  const m = getmant(d)
  const x = dfdiv(dfadd2ff(-1, m), dfadd2ff(1, m))
  const x2 = dfsqu(x)
  let t = C.t0
  t = fma(t, x2[0], C.t1)
  t = fma(t, x2[0], C.t2)
  let s = dfmulf2f(C.ln2, e)
  s = dfaddf2f2(s, dfscale(x, 2))
  s = dfaddf2f2(s, dfmulf2f2(dfmulf2f2(x2, x), dfadd2f2f2(dfmulf2f(x2, t), C.c)))
  return s
}

/** round half to even (_mm512_cvtps_epi32 under the default rounding mode) */
function rint (x: number): number {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}

function expkf (d: F2): number {
  let u = mul(add(d[0], d[1]), C.rln2)
  const q = rint(u)
  let s = dfadd2f2f(d, mul(q, -C.l2u))
  s = dfadd2f2f(s, mul(q, -C.l2l))
  s = dfnormalize(s)
  u = C.e0
  u = fma(u, s[0], C.e1)
  u = fma(u, s[0], C.e2)
  u = fma(u, s[0], C.e3)
  u = fma(u, s[0], C.e4)
  let t = dfaddf2f2(s, dfmulf2f(dfsqu(s), u))
  t = dfaddff2(1, t)
  u = add(t[0], t[1])
  u = f32(u * Math.pow(2, q))
  return d[0] < -104 ? 0 : u
}

/** Sleef_powf16_u10 for a positive finite x. */
export function sleefPowf (x: number, y: number): number {
  if (y === 0 || x === 1) return 1
  return expkf(dfmulf2f(logkf(x), y))
}

/** PyTorch's float32 `base ** exps` on the CPU: vectorized steps of 32 elements, the rest by libm powf. */
export function torchPowScalarBase (base: number, exps: readonly number[]): number[] {
  const b = f32(base)
  const vectorized = Math.floor(exps.length / 32) * 32
  return exps.map((y, i) => i < vectorized ? sleefPowf(b, y) : f32(Math.pow(b, y)))
}
