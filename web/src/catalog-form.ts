// A form generated from a catalog class's signature (GET /v1/modules): one field per constructor
// argument, required ones first as PyTorch lists them; submitting it writes the spec it stands for.
import { h } from './dom.js'
import { argValue } from './spec.js'
import type { ModuleClass, SignatureParam } from './api.js'

// built on the meta device: the page never chooses a device
const hidden = new Set(['device'])

function literalOptions (type: string): string[] | undefined {
  const m = /^(?:Optional\[)?Literal\[(.*)\]\]?$/.exec(type)
  if (m?.[1] === undefined) return undefined
  return [...m[1].matchAll(/'([^']*)'/g)].map((x) => x[1] ?? '')
}

const show = (v: unknown): string => v === null ? 'None' : v === true ? 'True' : v === false ? 'False' : typeof v === 'string' ? `'${v}'` : JSON.stringify(v)

function field (p: SignatureParam): HTMLElement {
  const id = `arg-${p.name}`
  const label = p.kind === 'var_positional' ? `*${p.name}` : p.kind === 'var_keyword' ? `**${p.name}` : p.name
  let input: HTMLInputElement | HTMLSelectElement
  const options = literalOptions(p.type)
  if (p.type === 'bool' && p.kind !== 'var_keyword') {
    input = h('input', { id, type: 'checkbox', name: p.name })
    input.checked = p.default === true
  } else if (options !== undefined) {
    input = h('select', { id, name: p.name }, ...options.map((o) => h('option', { value: o, selected: o === p.default }, o)))
  } else {
    const placeholder = p.kind === 'var_positional'
      ? 'JSON list, e.g. [{"class":"Linear","args":[4,4]}]'
      : p.kind === 'var_keyword' ? 'JSON object' : p.required ? 'required' : show(p.default)
    input = h('input', { id, type: 'text', name: p.name, placeholder, required: p.required, autocomplete: 'off', spellcheck: 'false' })
  }
  input.dataset.kind = p.kind
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, h('small', {}, p.type))
}

export function classForm (cls: ModuleClass): HTMLElement[] {
  return cls.signature.filter((p) => !hidden.has(p.name)).map(field)
}

/** The spec the filled form stands for: positional arguments given as args, changed keywords as kwargs. */
export function formSpec (cls: ModuleClass, form: HTMLFormElement): { class: string, args: unknown[], kwargs: Record<string, unknown> } {
  const args: unknown[] = []
  const kwargs: Record<string, unknown> = {}
  let positional = true
  for (const p of cls.signature) {
    if (hidden.has(p.name)) continue
    const el = form.elements.namedItem(p.name)
    if (!(el instanceof HTMLInputElement || el instanceof HTMLSelectElement)) continue
    if (el instanceof HTMLInputElement && el.type === 'checkbox') {
      if (el.checked !== (p.default === true)) { kwargs[p.name] = el.checked; positional = false }
      continue
    }
    if (el instanceof HTMLSelectElement) {
      if (el.value !== p.default) { kwargs[p.name] = el.value; positional = false }
      continue
    }
    if (el.value.trim() === '') { positional = positional && p.required; continue }
    const v = argValue(el.value)
    if (p.kind === 'var_positional') args.push(...(Array.isArray(v) ? v : [v]))
    else if (p.kind === 'var_keyword') Object.assign(kwargs, typeof v === 'object' && v !== null ? v : {})
    // positional while every earlier argument was given, as a person writes Linear(4, 8)
    else if (positional && p.required && p.kind === 'positional_or_keyword') args.push(v)
    else { kwargs[p.name] = v; positional = false }
  }
  return { class: cls.qualname, args, kwargs }
}
