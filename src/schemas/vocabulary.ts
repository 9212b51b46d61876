// The words the API and the code share: where memory lives, which generator draws an init, which
// init a materialization gets. Each is one TypeBox union here; the TypeScript type is its Static,
// and a use that describes it in its own words passes its options to `described`. Dtypes are the
// table in src/tensor/dtype.ts (the API takes them as strings, since it accepts torch's aliases).
// TypeBox's idiom: a schema and its Static type share one name, so one import brings both.
/* eslint-disable @typescript-eslint/no-redeclare */
import { Type, type SchemaOptions, type Static, type TLiteral, type TUnion } from '@sinclair/typebox'

function literals<const T extends string> (values: readonly T[]): TUnion<Array<TLiteral<T>>> {
  return Type.Union(values.map((v) => Type.Literal(v)))
}

/** The same union with a use's own options (its description). */
export function described<T extends TUnion> (union: T, options: SchemaOptions): T {
  return Type.Union(union.anyOf, options) as T
}

/** Whether `value` is one of the union's words. */
export function isOneOf<const T extends string> (union: TUnion<Array<TLiteral<T>>>, value: unknown): value is T {
  return union.anyOf.some((w) => w.const === value)
}

/** Where a materialization's memory is: the service process, or a SharedArrayBuffer the worker pool fills. */
export const Device = literals(['cpu', 'worker'])
export type Device = Static<typeof Device>

/** The `device` a torch.nn constructor takes: also `meta` (shapes only, the default). */
export const MODULE_DEVICES = ['meta', ...Device.anyOf.map((d) => d.const)] as const
export const ModuleDevice = literals(MODULE_DEVICES)
export type ModuleDevice = Static<typeof ModuleDevice>

/** The generator of an init's draws: PyTorch's CPU stream, or a counter-based stream per tensor. */
export const Rng = literals(['torch', 'philox'])
export type Rng = Static<typeof Rng>

/** The init before any overrides. */
export const InitKind = literals(['empty', 'zeros', 'ones', 'default'])
export type InitKind = Static<typeof InitKind>

/** The init a materialization reports: `checkpoint` when it was filled from an uploaded file. */
export const MaterializationInit = Type.Union([...InitKind.anyOf, Type.Literal('checkpoint')])
export type MaterializationInit = Static<typeof MaterializationInit>

/** A materialization's state: filled, still filling, or stopped (an error or a cancel). */
export const MaterializationStatus = literals(['ready', 'pending', 'failed'])
export type MaterializationStatus = Static<typeof MaterializationStatus>

/** The torch.nn.init functions an init override can name. */
export const OVERRIDE_FNS = [
  'uniform_', 'normal_', 'constant_', 'zeros_', 'ones_', 'xavier_uniform_', 'xavier_normal_',
  'kaiming_uniform_', 'kaiming_normal_', 'trunc_normal_'
] as const
export const OverrideFn = literals(OVERRIDE_FNS)
export type OverrideFn = Static<typeof OverrideFn>

/** torch.nn.init.calculate_gain's nonlinearities. */
export const NONLINEARITIES = [
  'linear', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d', 'conv_transpose2d', 'conv_transpose3d',
  'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu'
] as const
export const Nonlinearity = literals(NONLINEARITIES)
export type Nonlinearity = Static<typeof Nonlinearity>

/** kaiming_*'s `mode`: which fan the std is computed from. */
export const FanMode = literals(['fan_in', 'fan_out'])
export type FanMode = Static<typeof FanMode>

/** What a state_dict tensor is to its module. */
export const TensorKind = literals(['parameter', 'buffer'])
export type TensorKind = Static<typeof TensorKind>

/** inspect.Parameter.kind of a constructor parameter. */
export const ParamKind = literals(['positional_or_keyword', 'var_positional', 'keyword_only', 'var_keyword'])
export type ParamKind = Static<typeof ParamKind>
