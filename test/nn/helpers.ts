// Shared by the nn family tests: a module's layout as compact rows, and the message of a 400.
import type { Test } from 'tap'
import { buildModule } from '../../src/nn/index.js'
import { MateriaError, errorDefs } from '../../src/errors.js'

export type Row = [name: string, shape: number[], stride: number[], dtype?: string]

/** [name, shape, stride(, dtype when not float32)] per tensor, in state_dict order. */
export function layout (spec: unknown): Row[] {
  return buildModule(spec).tensors.map((x) => {
    const row: Row = [x.name, x.shape, x.stride]
    if (x.dtype !== 'float32') row.push(x.dtype)
    return row
  })
}

/** The message of the constructorArgs 400 that building `spec` must throw. */
export function message (t: Test, spec: unknown): string {
  try {
    buildModule(spec)
  } catch (err) {
    t.ok(err instanceof MateriaError, 'a MateriaError')
    const e = err as MateriaError
    t.equal(e.statusCode, 400)
    t.equal(e.code, errorDefs.constructorArgs.code)
    return e.message
  }
  t.fail('expected an error')
  return ''
}
