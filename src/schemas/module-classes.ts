// One OpenAPI component per torch.nn class (`torch.nn.Linear`, `torch.nn.LSTM`, …), generated from the same
// definitions that validate the arguments, so typed SDKs know every class's keyword arguments.
// Request validation itself stays with the definitions (PyTorch's messages), via ModuleSpec.
import { Type, type TSchema } from '@sinclair/typebox'
import { MODULE_DEFS } from '../nn/registry.js'
import type { AnyModuleDef } from '../nn/define.js'
import type { Param } from '../nn/bind-args.js'

function paramSchema (name: string, p: Param<unknown>): TSchema {
  const doc = `${name}: ${p.type}${p.required ? '' : ` = ${JSON.stringify(p.default ?? null)}`}`
  return Type.Unsafe({ ...(p.json ?? {}), description: doc })
}

export function moduleClassSchema (d: AnyModuleDef): TSchema {
  const params = Object.entries(d.signature as Record<string, Param<unknown>>)
  const named = params.filter(([, p]) => p.kind === 'positional_or_keyword' || p.kind === 'keyword_only')
  const positional = params.filter(([, p]) => p.kind === 'positional_or_keyword').length
  const varArgs = params.some(([, p]) => p.kind === 'var_positional')
  const varKwargs = params.some(([, p]) => p.kind === 'var_keyword')
  return Type.Object({
    class: Type.String({ enum: d.qualname.startsWith('torch.nn.') ? [d.name, `nn.${d.name}`, d.qualname] : [d.name, d.qualname] }),
    args: Type.Optional(Type.Array(Type.Unknown(), {
      description: `Positional arguments, in order: ${params.filter(([, p]) => p.kind === 'positional_or_keyword' || p.kind === 'var_positional').map(([n, p]) => p.kind === 'var_positional' ? `*${n}` : n).join(', ') || 'none'}.`,
      ...(varArgs ? {} : { maxItems: positional })
    })),
    kwargs: Type.Optional(Type.Object(Object.fromEntries(named.map(([n, p]) => [n, Type.Optional(paramSchema(n, p))])), { additionalProperties: varKwargs })),
    ties: Type.Optional(Type.Array(Type.Array(Type.String(), { minItems: 2 })))
  }, {
    $id: d.qualname,
    title: d.qualname,
    description: `${d.qualname}(${params.map(([n, p]) => p.kind === 'var_positional' ? `*${n}` : p.kind === 'var_keyword' ? `**${n}` : n).join(', ')}). ${d.doc.split('\n')[0] ?? ''}`,
    additionalProperties: false
  })
}

export const moduleClassSchemas: TSchema[] = MODULE_DEFS.map(moduleClassSchema)
