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

type SchemaObject = Record<string, unknown> & { properties?: Record<string, Record<string, unknown>> }

const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` })

const scalars = [{ type: 'number', nullable: true, description: 'null stands for None.' }, { type: 'string' }, { type: 'boolean' }]

/**
 * The document's `SpecArgument`: one constructor argument, a nested module spec typed by its class's
 * component. The document only: requests keep being validated by the module definitions (PyTorch's
 * messages), and as a JSON Schema union it would let ajv's type coercion (`coerceTypes`) rewrite
 * arguments, e.g. the string "5" into 5 where PyTorch answers a TypeError. A list's items are their own
 * component (`SpecListItem`, lists in it hold scalars): TypeScript generators refuse an array type that
 * contains itself, and PyTorch's constructors nest lists no deeper.
 */
function specArgumentSchemas (): Record<string, SchemaObject> {
  const modules = MODULE_DEFS.map((d) => ref(d.qualname))
  const dict = { type: 'object', additionalProperties: ref('SpecArgument') }
  return {
    SpecArgument: {
      title: 'SpecArgument',
      description: 'A constructor argument as JSON: a number, string, boolean or null, a list or tuple (array), a dict (object), ' +
        'or, wherever PyTorch takes a module, a nested module spec (typed by its class\'s component).',
      anyOf: [...scalars, { type: 'array', items: ref('SpecListItem') }, ...modules, dict]
    },
    SpecListItem: {
      title: 'SpecListItem',
      description: 'An item of a list or tuple argument: a SpecArgument whose own lists hold numbers, strings, booleans or nulls.',
      anyOf: [...scalars, { type: 'array', items: { anyOf: scalars } }, ...modules, dict]
    }
  }
}

/**
 * Types the arguments of ModuleSpec and of every class's component as SpecArgument (not `{}`, which SDKs
 * read as unknown). Replaces the schemas it changes with copies: they may be the very objects ajv validates with.
 */
export function typeSpecArguments (schemas: Record<string, SchemaObject>): void {
  Object.assign(schemas, specArgumentSchemas())
  for (const name of ['ModuleSpec', ...MODULE_DEFS.map((d) => d.qualname)]) {
    const schema = schemas[name]
    const { args, kwargs } = schema?.properties ?? {}
    if (schema === undefined || args === undefined) continue
    const properties: Record<string, Record<string, unknown>> = { ...schema.properties, args: { ...args, items: ref('SpecArgument') } }
    if (kwargs !== undefined && kwargs.additionalProperties !== false) properties.kwargs = { ...kwargs, additionalProperties: ref('SpecArgument') }
    schemas[name] = { ...schema, properties }
  }
}
