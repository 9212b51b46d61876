// Per-tensor init overrides: `init: { default, overrides: { "<glob>": { fn, ...args } } }`.
//
// Semantics (the schema description repeats them): after the module is constructed (with its own
// init for default "default"), each pattern, in the order the object lists them, applies its
// torch.nn.init function to every floating-point tensor of state_dict() whose name matches, in
// state_dict order, continuing the same random stream — what this Python does after construction:
//
//   sd = m.state_dict(keep_vars=True)
//   for pattern, (fn, kwargs) in overrides.items():
//       done = set()
//       for name, t in sd.items():
//           if t.is_floating_point() and fnmatch.fnmatchcase(name, pattern) and id(t) not in done:
//               done.add(id(t)); getattr(torch.nn.init, fn)(t, **kwargs)
//
// so a storage shared by tied names is initialised once per pattern. Non-persistent buffers are not
// in state_dict and are never matched. Patterns are Python fnmatch globs (case-sensitive):
// `*` matches any run of characters including dots, `?` one character, `[seq]` / `[!seq]` classes.
import { materiaError, type MateriaError } from '../errors.js'
import { erf } from './libm.js'
import type { InitRecorder, Storage } from './init-recorder.js'
import { type Instance, stateEntries } from './module-instance.js'
import { NONLINEARITIES, OVERRIDE_FNS, type OverrideFn } from '../schemas/vocabulary.js'

/** Each function's keyword arguments (PyTorch names) with their defaults; undefined: required. */
const SIGNATURES: Record<OverrideFn, Record<string, number | string | undefined>> = {
  uniform_: { a: 0.0, b: 1.0 },
  normal_: { mean: 0.0, std: 1.0 },
  constant_: { val: undefined },
  zeros_: {},
  ones_: {},
  xavier_uniform_: { gain: 1.0 },
  xavier_normal_: { gain: 1.0 },
  kaiming_uniform_: { a: 0, mode: 'fan_in', nonlinearity: 'leaky_relu' },
  kaiming_normal_: { a: 0, mode: 'fan_in', nonlinearity: 'leaky_relu' },
  trunc_normal_: { mean: 0.0, std: 1.0, a: -2.0, b: 2.0 }
}

export interface Override {
  readonly pattern: string
  readonly regex: RegExp
  readonly fn: OverrideFn
  /** every argument of the function, defaults filled in */
  readonly args: Readonly<Record<string, number | string>>
}

/** Python's fnmatch.translate, anchored (fnmatchcase: no case folding). */
export function globToRegExp (pattern: string): RegExp {
  let out = ''
  const n = pattern.length
  let i = 0
  while (i < n) {
    const c = pattern[i++] as string
    if (c === '*') {
      out += '.*'
      while (pattern[i] === '*') i++
    } else if (c === '?') {
      out += '.'
    } else if (c === '[') {
      let j = i
      if (pattern[j] === '!') j++
      if (pattern[j] === ']') j++
      while (j < n && pattern[j] !== ']') j++
      if (j >= n) {
        out += '\\['
      } else {
        let stuff = pattern.slice(i, j)
        i = j + 1
        stuff = stuff.replace(/\\/g, '\\\\')
        if (stuff.startsWith('!')) stuff = '^' + stuff.slice(1)
        else if (stuff.startsWith('^') || stuff.startsWith('[')) stuff = '\\' + stuff
        out += `[${stuff.replace(/\]/g, '\\]')}]`
      }
    } else {
      out += c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
    }
  }
  return new RegExp(`^${out}$`, 's')
}

function describe (v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v)
}

/** Validates `overrides` (an object of glob → { fn, ...args }) into a list in the object's order. */
export function parseOverrides (raw: unknown): Override[] {
  if (raw === undefined) return []
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw materiaError('overridesNotObject', {})
  }
  const out: Override[] = []
  for (const [pattern, spec] of Object.entries(raw as Record<string, unknown>)) {
    if (pattern === '') throw materiaError('overridePatternEmpty', { pattern })
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
      throw materiaError('overrideNotObject', { pattern })
    }
    const { fn, ...given } = spec as Record<string, unknown>
    if (typeof fn !== 'string' || !(OVERRIDE_FNS as readonly string[]).includes(fn)) {
      throw materiaError('overrideUnknownFn', { pattern, fn: describe(fn), fns: OVERRIDE_FNS.join(', ') })
    }
    const f = fn as OverrideFn
    const sig = SIGNATURES[f]
    const args: Record<string, number | string> = {}
    for (const [k, v] of Object.entries(given)) {
      if (!(k in sig)) {
        const accepted = Object.keys(sig)
        throw accepted.length > 0
          ? materiaError('overrideUnexpectedArg', { pattern, fn: f, arg: k, accepted: accepted.join(', ') })
          : materiaError('overrideTakesNoArgs', { pattern, fn: f, arg: k })
      }
      if (k === 'mode') {
        if (v !== 'fan_in' && v !== 'fan_out') throw materiaError('overrideMode', { pattern, mode: describe(v) })
      } else if (k === 'nonlinearity') {
        if (typeof v !== 'string' || !(NONLINEARITIES as readonly string[]).includes(v)) {
          throw materiaError('overrideNonlinearity', { pattern, nonlinearity: describe(v), nonlinearities: NONLINEARITIES.join(', ') })
        }
      } else if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw materiaError('overrideNotNumber', { pattern, fn: f, arg: k, value: describe(v) })
      }
      args[k] = v as number | string
    }
    for (const [k, d] of Object.entries(sig)) {
      if (k in args) continue
      if (d === undefined) throw materiaError('overrideMissingArg', { pattern, fn: f, arg: k })
      args[k] = d
    }
    if ((f === 'normal_' || f === 'trunc_normal_') && !((args.std as number) >= 0)) {
      throw materiaError('overrideStd', { pattern, std: args.std as number })
    }
    if (f === 'uniform_' && !((args.a as number) <= (args.b as number))) {
      throw materiaError('overrideRange', { pattern, a: args.a as number, b: args.b as number })
    }
    if (f === 'trunc_normal_') checkTruncNormal(pattern, args)
    out.push({ pattern, regex: globToRegExp(pattern), fn: f, args })
  }
  return out
}

const normCdf = (x: number): number => (1.0 + erf(x / Math.sqrt(2.0))) / 2.0

/** torch >= 2.12's trunc_normal_ is reproducible in its rejection branch only (kept mass p > 0.3). */
function checkTruncNormal (pattern: string, args: Record<string, number | string>): void {
  const mean = args.mean as number; const std = args.std as number; const a = args.a as number; const b = args.b as number
  if (!(std > 0)) throw materiaError('truncNormalStd', { pattern, std })
  if (!(a < b)) throw materiaError('truncNormalBounds', { pattern, a, b })
  const p = normCdf((b - mean) / std) - normCdf((a - mean) / std)
  if (!(p > 0.3)) {
    throw materiaError('truncNormalMass', { pattern, p: p.toPrecision(4) })
  }
}

/** Applies the overrides in order to the module's state_dict, recording their RNG ops. */
export function applyOverrides (root: Instance, overrides: readonly Override[], rec: InitRecorder, className: string): void {
  if (overrides.length === 0) return
  const entries = stateEntries(root).filter((e) => e.persistent && e.storage.floating)
  for (const o of overrides) {
    const done = new Set<Storage>()
    let matched = 0
    for (const { name, storage } of entries) {
      if (!o.regex.test(name)) continue
      matched++
      if (done.has(storage)) continue
      done.add(storage)
      const reject = (message: string): MateriaError =>
        materiaError('overrideRejected', { pattern: o.pattern, fn: o.fn, name, shape: storage.shape.join(', '), message })
      try {
        rec.rejecting(reject, () => { applyOne(rec, storage, o) })
      } catch (err) {
        if (err instanceof RangeError) throw reject(err.message)
        throw err
      }
    }
    if (matched === 0) {
      const names = entries.map((e) => e.name)
      const shown = names.length > 12 ? `${names.slice(0, 12).join(', ')}, … (${names.length} in all)` : names.join(', ')
      throw names.length > 0
        ? materiaError('overrideMatchesNothing', { pattern: o.pattern, qualname: className, names: shown })
        : materiaError('overrideMatchesNothingEmpty', { pattern: o.pattern, qualname: className })
    }
  }
}

function applyOne (rec: InitRecorder, s: Storage, o: Override): void {
  const n = (k: string): number => o.args[k] as number
  const str = (k: string): string => o.args[k] as string
  const what = `${o.fn} (override '${o.pattern}')`
  switch (o.fn) {
    case 'uniform_': rec.uniform(s, n('a'), n('b'), what); break
    case 'normal_': rec.normal(s, n('mean'), n('std'), what); break
    case 'constant_': rec.checkedConstant(s, n('val')); break
    case 'zeros_': rec.constant(s, 0); break
    case 'ones_': rec.constant(s, 1); break
    case 'xavier_uniform_': rec.xavierUniform(s, n('gain'), what); break
    case 'xavier_normal_': rec.xavierNormal(s, n('gain'), what); break
    case 'kaiming_uniform_': rec.kaimingUniform(s, n('a'), str('mode'), str('nonlinearity'), what); break
    case 'kaiming_normal_': rec.kaimingNormal(s, n('a'), str('mode'), str('nonlinearity'), what); break
    case 'trunc_normal_': rec.truncNormal(s, n('mean'), n('std'), n('a'), n('b'), what); break
  }
}
