import { readFileSync } from 'node:fs'
import { buildModule } from '/work/main/src/nn/index.js'
const cases = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as any[]
let bad = 0
for (const c of cases) {
  let got: any
  try { got = { tensors: buildModule(c.spec).tensors.map((x: any) => { const o: any = { name: x.name, kind: x.kind, shape: x.shape, dtype: x.dtype, stride: x.stride, numel: x.numel, nbytes: x.nbytes, requiresGrad: x.requiresGrad, persistent: x.persistent }; if (x.tiedTo) o.tiedTo = x.tiedTo; return o }) } } catch (e: any) { got = { error: e.message, status: e.statusCode } }
  const exp = c.error ? { error: c.error.message } : { tensors: c.tensors }
  const ok = c.error ? got.error === c.error.message && got.status === 400 : JSON.stringify(got.tensors) === JSON.stringify(c.tensors)
  if (!ok) { bad++; console.log('MISMATCH', c.id, JSON.stringify(c.spec), '\n  exp', JSON.stringify(exp).slice(0, 400), '\n  got', JSON.stringify(got).slice(0, 400)) }
}
console.log(`${cases.length - bad}/${cases.length} ok`)
