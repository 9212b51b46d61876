// print(module): nn.Module.__repr__ and ModuleList's grouping of repeated blocks, as PyTorch 2.13
// writes them (torch/nn/modules/module.py, container.py); each class's extra_repr() is its
// definition's `repr`. Checked against PyTorch's output in test/fixtures/nn-repr.json.
import type { Param } from './bind-args.js'
import type { ModuleNode, ReprContext } from './define.js'
import { pyFloatRepr, pyRepr, pyStrRepr } from './py-repr.js'

/** Python's str()/repr() of an argument value as the module stores it; `float`: a number is a float. */
function pyValue (v: unknown, quote: boolean, float = false): string {
  if (v === null || v === undefined) return 'None'
  if (typeof v === 'boolean') return v ? 'True' : 'False'
  if (typeof v === 'number') return float ? pyFloatRepr(v) : pyRepr(v)
  if (typeof v === 'string') return quote ? pyStrRepr(v) : v
  if (Array.isArray(v)) return `[${v.map((x) => pyValue(x, true)).join(', ')}]`
  if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${pyStrRepr(k)}: ${pyValue(x, true)}`).join(', ')}}`
  return String(v)
}

/** A tuple as Python prints it: (3, 3), (4,), (). */
export function pyTuple (xs: readonly unknown[]): string {
  return xs.length === 1 ? `(${pyValue(xs[0], true)},)` : `(${xs.map((x) => pyValue(x, true)).join(', ')})`
}

function context (node: ModuleNode): ReprContext {
  const signature = node.def.signature as Record<string, Param<unknown>>
  // a default of a float parameter is a Python float (1.0, 0.1); a given number is what JSON loads
  const isFloat = (p: string): boolean => !node.given.has(p) && /float/.test(signature[p]?.type ?? '') && !/int|size/.test(signature[p]?.type ?? '')
  return {
    str: (p) => pyValue(node.raw[p], false, isFloat(p)),
    repr: (p) => pyValue(node.raw[p], true, isFloat(p)),
    tuple: (p) => {
      const v = node.bound[p]
      return Array.isArray(v) ? pyTuple(v) : pyValue(v, true)
    },
    has: (t) => node.tensors.some((x) => x.name === t),
    given: (p) => node.given.has(p)
  }
}

/** _addindent: every line but the first indented, blank lines left empty. */
function addIndent (s: string, n: number): string {
  const lines = s.split('\n')
  if (lines.length === 1) return s
  const pad = ' '.repeat(n)
  return [lines[0], ...lines.slice(1).map((l) => l.trim() === '' ? '' : pad + l)].join('\n')
}

function childRepr (m: ModuleNode | null, memo: Map<ModuleNode, string>): string {
  return m === null ? 'None' : moduleRepr(m, memo)
}

/** ModuleList.__repr__: runs of equal reprs print once as `(i-j): n x …`. */
function moduleListRepr (node: ModuleNode, memo: Map<ModuleNode, string>): string {
  const reprs = node.children.map(([, m]) => childRepr(m, memo))
  if (reprs.length === 0) return `${node.name}()`
  const lines: string[] = []
  let start = 0
  for (let i = 1; i <= reprs.length; i++) {
    if (i < reprs.length && reprs[i] === reprs[start]) continue
    const b = reprs[start] as string
    lines.push(addIndent(i - 1 === start ? `(${start}): ${b}` : `(${start}-${i - 1}): ${i - start} x ${b}`, 2))
    start = i
  }
  return `${node.name}(\n  ${lines.join('\n  ')}\n)`
}

/** repr(module): what print(module) prints, without the final newline. */
export function moduleRepr (node: ModuleNode, memo = new Map<ModuleNode, string>()): string {
  // clones share subtrees (TransformerEncoder's layers), so each distinct node is printed once
  const known = memo.get(node)
  if (known !== undefined) return known
  let out: string
  if (node.name === 'ModuleList') {
    out = moduleListRepr(node, memo)
  } else {
    const extra = node.def.repr?.(node.bound, context(node)) ?? ''
    const extraLines = extra === '' ? [] : extra.split('\n')
    const childLines = node.children.map(([k, m]) => `(${k}): ${addIndent(childRepr(m, memo), 2)}`)
    const lines = [...extraLines, ...childLines]
    out = `${node.name}(`
    if (lines.length > 0) out += extraLines.length === 1 && childLines.length === 0 ? extraLines[0] as string : `\n  ${lines.join('\n  ')}\n`
    out += ')'
  }
  memo.set(node, out)
  return out
}
