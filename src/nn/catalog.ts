// Name resolution and the catalog view of the registry.
import { materiaError } from '../errors.js'
import type { ParamKind } from '../schemas/vocabulary.js'
import type { Param } from './bind-args.js'
import type { AnyModuleDef } from './define.js'
import { MODULE_DEFS } from './registry.js'
import { configFields, type ConfigDef, fieldType } from './transformers/config.js'
import { CONFIG_DEFS } from './transformers/index.js'
import { NON_MODULES, nonModuleSpellings, type NonModuleClass } from './modules/non-modules.js'

export interface SignatureParam {
  name: string
  kind: ParamKind
  required: boolean
  default?: unknown
  type: string
}

export interface ModuleClassInfo {
  name: string
  qualname: string
  acceptsDevice: boolean
  signature: SignatureParam[]
  doc: string
}

// Accepted spellings: Linear, nn.Linear, torch.nn.Linear, torch.nn.modules.linear.Linear.
function moduleSpellings (d: AnyModuleDef): string[] {
  const out = new Set([d.name, d.qualname, `${d.pyModule}.${d.name}`])
  if (d.qualname.startsWith('torch.nn.')) out.add(d.qualname.slice('torch.'.length))
  return [...out]
}

const byName = new Map<string, AnyModuleDef>()
for (const d of MODULE_DEFS) {
  for (const s of moduleSpellings(d)) {
    if (byName.has(s)) throw new Error(`duplicate nn class spelling ${s}`)
    byName.set(s, d)
  }
}
const nonModuleByName = new Map<string, NonModuleClass>()
for (const c of NON_MODULES) for (const s of nonModuleSpellings(c)) nonModuleByName.set(s, c)

export function findModuleDef (name: string): AnyModuleDef | undefined {
  return byName.get(name)
}

const configByName = new Map<string, ConfigDef>()
for (const c of CONFIG_DEFS) for (const s of [c.name, c.qualname]) configByName.set(s, c)

/** A transformers configuration class: 'LlamaConfig' or 'transformers.LlamaConfig'. */
export function findConfigDef (name: string): ConfigDef | undefined {
  return configByName.get(name)
}

export function findNonModule (name: string): NonModuleClass | undefined {
  return nonModuleByName.get(name)
}

function levenshtein (a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const cur = [i]
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    prev = cur
  }
  return prev[b.length] as number
}

/** Up to 5 qualnames ranked by case-insensitive edit distance (substring hits count as close). */
export function closeMatches (name: string, limit = 5): string[] {
  const q = name.replace(/^(torch\.)?nn\./, '').toLowerCase()
  if (q.length === 0 || q.length > 200) return []
  const scored: Array<[number, string]> = []
  for (const d of MODULE_DEFS) {
    const n = d.name.toLowerCase()
    let score = levenshtein(q, n)
    if (q.length >= 3 && (n.includes(q) || q.includes(n))) score = Math.min(score, 1 + Math.abs(n.length - q.length) / 10)
    if (score <= Math.max(2, Math.floor(q.length / 3))) scored.push([score, d.qualname])
  }
  scored.sort((x, y) => x[0] - y[0] || x[1].localeCompare(y[1]))
  return scored.slice(0, limit).map(([, qn]) => qn)
}

export function unknownClassError (name: string): Error {
  const close = closeMatches(name)
  const shown = name.length > 200 ? `${name.slice(0, 200)}…` : name
  return close.length > 0 ? materiaError('unknownClass', { name: shown, matches: close.join(', ') }) : materiaError('unknownClassNoMatch', { name: shown })
}

export function classInfo (d: AnyModuleDef): ModuleClassInfo {
  const signature: SignatureParam[] = (Object.entries(d.signature) as Array<[string, Param<unknown>]>).map(([name, p]) => {
    const s: SignatureParam = { name, kind: p.kind, required: p.required, type: p.type }
    if (!p.required && p.kind !== 'var_positional' && p.kind !== 'var_keyword') s.default = p.default
    return s
  })
  return { name: d.name, qualname: d.qualname, acceptsDevice: d.acceptsDevice, signature, doc: d.doc }
}

/** A config class in the catalog: its dataclass fields (PreTrainedConfig's first) with their defaults. */
export function configInfo (c: ConfigDef): ModuleClassInfo {
  const signature: SignatureParam[] = configFields(c).map(([name, f]) => ({ name, kind: 'keyword_only', required: false, default: f.default, type: fieldType(f) }))
  signature.push({ name: 'kwargs', kind: 'var_keyword', required: false, type: 'Any' })
  return { name: c.name, qualname: c.qualname, acceptsDevice: false, signature, doc: `${c.doc} model_type '${c.modelType}'; unknown keys are kept.` }
}

let sortedInfos: ModuleClassInfo[] | undefined

export function listModuleClasses (): ModuleClassInfo[] {
  sortedInfos ??= [...MODULE_DEFS.map(classInfo), ...CONFIG_DEFS.map(configInfo)].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  return sortedInfos
}

export function getModuleClass (name: string): ModuleClassInfo {
  const d = findModuleDef(name)
  if (d !== undefined) return classInfo(d)
  const c = findConfigDef(name)
  if (c !== undefined) return configInfo(c)
  throw unknownClassError(name)
}

export function lookupClass (name: string): { kind: 'module', info: ModuleClassInfo } | { kind: 'nonModule', pyClass: string } {
  const d = findModuleDef(name)
  if (d !== undefined) return { kind: 'module', info: classInfo(d) }
  const c = findNonModule(name)
  if (c !== undefined) return { kind: 'nonModule', pyClass: `<class '${c.typename}'>` }
  throw unknownClassError(name)
}
