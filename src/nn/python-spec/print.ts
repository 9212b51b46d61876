// The canonical Python expression of a module spec, the `python` field of responses: parsing it
// (parse.ts) gives the same module. The form: the qualified class (`torch.nn.Linear`), positional
// and keyword arguments as given (defaults are not added), JSON arrays as lists, objects as dicts
// (Sequential's named form as collections.OrderedDict), numbers as Python's repr of what JSON
// loads (integral values are ints), dtype arguments as `torch.float16`.
import { pyRepr, pyStrRepr } from '../py-repr.js'
import { parseDType } from '../../tensor/dtype.js'
import { findModuleDef } from '../catalog.js'
import type { Param, Signature } from '../bind-args.js'
import { KEYWORDS } from './tokenize.js'

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

class Unprintable extends Error {}

function isSpec (v: unknown): v is { class: string, args?: unknown[], kwargs?: Record<string, unknown>, ties?: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { class?: unknown }).class === 'string'
}

const isDTypeParam = (p: Param<unknown> | undefined): boolean => p?.type === 'Optional[torch.dtype]'

function value (v: unknown, dtype = false): string {
  if (v === null || v === undefined) return 'None'
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  if (typeof v === 'number') return pyRepr(v)
  if (typeof v === 'string') {
    const d = dtype ? parseDType(v) : undefined
    return d !== undefined ? `torch.${d}` : pyStrRepr(v)
  }
  if (Array.isArray(v)) return `[${v.map((x) => value(x)).join(', ')}]`
  if (isSpec(v)) return call(v, false)
  return `{${Object.entries(v).map(([k, x]) => `${pyStrRepr(k)}: ${value(x)}`).join(', ')}}`
}

function call (spec: { class: string, args?: unknown[], kwargs?: Record<string, unknown>, ties?: unknown }, top: boolean): string {
  if (!top && spec.ties !== undefined) throw new Unprintable()
  const def = findModuleDef(spec.class)
  const signature: Signature = def?.signature ?? {}
  const positional = Object.values(signature).filter((p) => p.kind === 'positional_or_keyword')
  const args = spec.args ?? []
  const parts = args.map((a, i) => {
    // Sequential's single object argument is the OrderedDict form (src/nn/modules/containers.ts)
    if (def?.name === 'Sequential' && args.length === 1 && typeof a === 'object' && a !== null && !Array.isArray(a) && !isSpec(a)) {
      return `collections.OrderedDict([${Object.entries(a).map(([k, m]) => `(${pyStrRepr(k)}, ${value(m)})`).join(', ')}])`
    }
    return value(a, isDTypeParam(positional[i]))
  })
  for (const [k, v] of Object.entries(spec.kwargs ?? {})) {
    if (!IDENTIFIER.test(k) || KEYWORDS.has(k)) throw new Unprintable()
    parts.push(`${k}=${value(v, isDTypeParam(signature[k]))}`)
  }
  return `${def?.qualname ?? spec.class}(${parts.join(', ')})`
}

/**
 * The canonical expression of a JSON module spec (its top-level `ties` stay beside it), or
 * undefined when Python cannot say it: ties inside a nested spec, a keyword that is not an identifier.
 */
export function pythonOf (spec: { class: string, args?: unknown[], kwargs?: Record<string, unknown> }): string | undefined {
  try {
    return call(spec, true)
  } catch (err) {
    if (err instanceof Unprintable) return undefined
    throw err
  }
}
