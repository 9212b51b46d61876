// torch/nn/modules/rnn.py: RNN, LSTM, GRU (RNNBase) and RNNCell, LSTMCell, GRUCell (RNNCellBase).
//
// PyTorch validates these arguments itself, inside __init__, in a fixed order and with its own
// wording ("input_size should be of type int, got: str", "bias should be of type bool, got: int").
// So most parameters are bound raw (`py`) and checked in build() in that same order; the small
// Python-semantics helpers below are shared with attention.ts and transformer.ts.
import { materiaError } from '../../errors.js'
import { DEFAULT_DTYPE, type DType } from '../../tensor/dtype.js'
import { arg, toInt } from '../args.js'
import type { CoerceCtx, Param } from '../bind-args.js'
import { pyFloatRepr, pyTypeName, pyValueRepr } from '../py-repr.js'
import { sizeTypeError } from '../dims.js'
import { type AnyModuleDef, type BuildContext, defineModule, isModuleNode, isNonModuleRef, type ModuleInit, type OwnTensor, parameter, type ReprContext } from '../define.js'

const pyModule = 'torch.nn.modules.rnn'

// ---------------------------------------------------------------------------------------------
// Python value semantics for JSON values (shared by the recurrent, attention and transformer files)

/** A parameter bound as given (PyTorch checks it later, itself); only inexact integers are refused. */
export function py (type: string, ...def: [unknown?]): Param<unknown> {
  return arg.custom(type, (v: unknown, c: CoerceCtx) => {
    if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) toInt(v, c)
    return v
  }, ...def)
}

/** isinstance(v, int): bool is an int subclass in Python. */
export function isPyInt (v: unknown): v is number | boolean {
  return typeof v === 'boolean' || (typeof v === 'number' && Number.isInteger(v))
}

function isPyNumber (v: unknown): v is number | boolean {
  return typeof v === 'boolean' || typeof v === 'number'
}

/** The numeric value of a Python int/float/bool. */
export function pyNum (v: number | boolean): number {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v
}

/** str(v) of a JSON value, as an f-string shows it. */
export function pyStr (v: unknown): string {
  if (typeof v === 'string') return v
  if (isModuleNode(v)) return `${v.name}()`
  if (isNonModuleRef(v)) return v.pyClass
  return pyValueRepr(v)
}

/** `v <op> n` for a number n: a number/bool compares, anything else is Python's TypeError. */
export function pyCompare (v: unknown, op: '<' | '<=' | '>=' | '>', n: number, fail: (m: string) => never): boolean {
  if (!isPyNumber(v)) return fail(`'${op}' not supported between instances of '${pyTypeName(v)}' and 'int'`)
  const x = pyNum(v)
  return op === '<' ? x < n : op === '<=' ? x <= n : op === '>=' ? x >= n : x > n
}

/** range(v)'s length: an int (or bool), else "'float' object cannot be interpreted as an integer". */
export function pyRangeLength (v: unknown, fail: (m: string) => never): number {
  if (!isPyInt(v)) return fail(`'${pyTypeName(v)}' object cannot be interpreted as an integer`)
  return Math.max(0, pyNum(v))
}

/** n * v for a Python int n (str and list repeat; that is still the wrong type for a size later). */
export function pyIntTimes (n: number, v: unknown, fail: (m: string) => never): unknown {
  if (isPyNumber(v)) return n * pyNum(v)
  if (typeof v === 'string' || Array.isArray(v)) return v
  return fail(`unsupported operand type(s) for *: 'int' and '${pyTypeName(v)}'`)
}

/**
 * Parameter(torch.empty(size, dtype=dtype)) for sizes computed from raw arguments, so a str, None
 * or float in the tuple gets torch's own TypeError (worded by position, see dims.ts).
 */
export function emptyParameter (name: string, size: readonly unknown[], dtype: DType, fail: (m: string) => never): OwnTensor {
  const message = sizeTypeError('empty', size as readonly number[], false)
  if (message !== undefined) fail(message)
  return parameter(name, size.map((d) => typeof d === 'boolean' ? (d ? 1 : 0) : d as number), dtype)
}

/** float(v), for its errors: a number, or PyTorch users see float()'s TypeError/ValueError. */
function pyFloat (v: unknown, fail: (m: string) => never): void {
  if (isPyNumber(v)) return
  if (typeof v === 'string') {
    const s = v.trim().replace(/(\d)_(?=\d)/g, '$1')
    if (/^[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf|infinity|nan)$/i.test(s)) return
    fail(`could not convert string to float: ${pyValueRepr(v)}`)
  }
  fail(`float() argument must be a string or a real number, not '${pyTypeName(v)}'`)
}

// the tensor-count limit of build.ts (not imported: build.ts imports the registry, which imports
// this file); checked up front so a huge num_layers fails before allocating millions of entries
const MAX_TENSORS = 1_000_000

// ---------------------------------------------------------------------------------------------
// RNNBase

type Mode = 'LSTM' | 'GRU' | 'RNN_TANH' | 'RNN_RELU'
const GATES: Record<Mode, number> = { LSTM: 4, GRU: 3, RNN_TANH: 1, RNN_RELU: 1 }

interface RNNBaseArgs {
  input_size: unknown
  hidden_size: unknown
  num_layers: unknown
  bias: unknown
  batch_first: unknown
  dropout: unknown
  bidirectional: boolean
  proj_size: unknown
  dtype: DType | null
}

/** RNNBase.__init__ after binding: its checks in its order, then `_flat_weights_names` order. */
function rnnBase (mode: Mode, a: RNNBaseArgs, ctx: BuildContext): { tensors: OwnTensor[] } {
  const fail: (m: string) => never = ctx.fail
  const dtype = a.dtype ?? DEFAULT_DTYPE
  const dirs = a.bidirectional ? 2 : 1
  pyFloat(a.dropout, fail) // self.dropout = float(dropout)
  if (typeof a.dropout !== 'number' || !(a.dropout >= 0 && a.dropout <= 1)) {
    fail('dropout should be a number in range [0, 1] representing the probability of an element being zeroed')
  }
  if (typeof a.bias !== 'boolean') fail(`bias should be of type bool, got: ${pyTypeName(a.bias)}`)
  if (typeof a.batch_first !== 'boolean') fail(`batch_first should be of type bool, got: ${pyTypeName(a.batch_first)}`)
  if (!isPyInt(a.input_size)) fail(`input_size should be of type int, got: ${pyTypeName(a.input_size)}`)
  if (pyNum(a.input_size) <= 0) fail('input_size must be greater than zero')
  if (!isPyInt(a.hidden_size)) fail(`hidden_size should be of type int, got: ${pyTypeName(a.hidden_size)}`)
  const hidden = pyNum(a.hidden_size)
  if (hidden <= 0) fail('hidden_size must be greater than zero')
  if (pyCompare(a.num_layers, '<=', 0, fail)) fail('num_layers must be greater than zero')
  if (pyCompare(a.proj_size, '<', 0, fail)) fail('proj_size should be a positive integer or zero to disable projections')
  if (pyCompare(a.proj_size, '>=', hidden, fail)) fail('proj_size has to be smaller than hidden_size')
  const proj = pyNum(a.proj_size as number | boolean)
  const gate = GATES[mode] * hidden
  const layers = pyRangeLength(a.num_layers, fail)

  const perDirection = (a.bias ? 4 : 2) + (proj > 0 ? 1 : 0)
  if (layers * dirs * perDirection > MAX_TENSORS) throw materiaError('tooManySpecTensors', { max: MAX_TENSORS })
  ctx.expectTensors(layers * dirs * perDirection)
  // sizes go to torch.empty as given: proj_size=True is a valid second size but not a first one
  const realHidden = proj > 0 ? a.proj_size : a.hidden_size
  const tensors: OwnTensor[] = []
  for (let layer = 0; layer < layers; layer++) {
    for (let direction = 0; direction < dirs; direction++) {
      const sfx = `_l${layer}${direction === 1 ? '_reverse' : ''}`
      const layerInput = layer === 0 ? a.input_size : pyIntTimes(dirs, realHidden, fail)
      tensors.push(emptyParameter(`weight_ih${sfx}`, [gate, layerInput], dtype, fail))
      tensors.push(emptyParameter(`weight_hh${sfx}`, [gate, realHidden], dtype, fail))
      if (a.bias) {
        tensors.push(parameter(`bias_ih${sfx}`, [gate], dtype))
        tensors.push(parameter(`bias_hh${sfx}`, [gate], dtype))
      }
      if (proj > 0) tensors.push(emptyParameter(`weight_hr${sfx}`, [a.proj_size, a.hidden_size], dtype, fail))
    }
  }
  return { tensors }
}

// The documented overload signatures. RNN and GRU really are `__init__(self, *args, **kwargs)`:
// they pop `proj_size` (to reject it) and RNN's `nonlinearity`, then call RNNBase.__init__, so
// binding errors name RNNBase.__init__ and any other keyword is RNNBase's "unexpected keyword".
const head = { input_size: py('int'), hidden_size: py('int'), num_layers: py('int', 1) }
const tail = {
  bias: py('bool', true),
  batch_first: py('bool', false),
  dropout: py('float', 0),
  bidirectional: arg.bool(false)
}
const factory = { device: arg.device(), dtype: arg.dtype() }

/** RNNBase.extra_repr: sizes, then each option that differs from its default (dropout is float(dropout)). */
function rnnRepr (a: Omit<RNNBaseArgs, 'proj_size' | 'dtype'> & { proj_size?: unknown }, r: ReprContext): string {
  let s = `${r.str('input_size')}, ${r.str('hidden_size')}`
  if (a.proj_size !== undefined && pyNum(a.proj_size as number) !== 0) s += `, proj_size=${r.str('proj_size')}`
  if (pyNum(a.num_layers as number) !== 1) s += `, num_layers=${r.str('num_layers')}`
  if (a.bias !== true) s += `, bias=${r.str('bias')}`
  if (a.batch_first !== false) s += `, batch_first=${r.str('batch_first')}`
  if (pyNum(a.dropout as number) !== 0) s += `, dropout=${pyFloatRepr(pyNum(a.dropout as number))}`
  if (a.bidirectional) s += `, bidirectional=${r.str('bidirectional')}`
  return s
}

/** RNNCellBase.extra_repr */
function cellRepr (a: { bias: boolean, nonlinearity?: unknown }, r: ReprContext): string {
  let s = `${r.str('input_size')}, ${r.str('hidden_size')}`
  if (!a.bias) s += `, bias=${r.str('bias')}`
  if (a.nonlinearity !== undefined && a.nonlinearity !== 'tanh') s += `, nonlinearity=${r.str('nonlinearity')}`
  return s
}
const extraKwargs = arg.varKwargs(arg.any())

// RNN.__init__ and GRU.__init__ refuse proj_size first ("in kwargs": even proj_size=0) ...
function rejectProjSize (kwargs: Record<string, unknown>, ctx: BuildContext): void {
  if ('proj_size' in kwargs) ctx.fail('proj_size argument is only supported for LSTM, not RNN or GRU')
}

// ... and hand any other extra keyword on to RNNBase.__init__, which does not take it
function rejectExtraKwargs (kwargs: Record<string, unknown>, ctx: BuildContext): void {
  const unexpected = Object.keys(kwargs)[0]
  if (unexpected !== undefined) ctx.fail(`RNNBase.__init__() got an unexpected keyword argument '${unexpected}'`)
}

/** RNNBase / RNNCellBase.reset_parameters(): every parameter, in registration order, ~ U(-stdv, stdv). */
const recurrentInit: ModuleInit<{ hidden_size: unknown }> = {
  doc: 'All weights and biases ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).',
  reset (a, m, init) {
    // __init__ took hidden_size as a size, so it is a Python int
    if (!isPyInt(a.hidden_size)) throw new Error(`internal: ${m.name} was built with hidden_size ${pyStr(a.hidden_size)}`)
    const hidden = pyNum(a.hidden_size)
    for (const t of m.tensors) {
      if (t.kind !== 'parameter') continue
      if (hidden > 0) {
        const stdv = 1.0 / Math.sqrt(hidden)
        init.uniform(t.storage, -stdv, stdv, `uniform_(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) on ${m.name}.${t.name}`)
      } else {
        init.uniform(t.storage, 0, 0, `uniform_(0, 0) on ${m.name}.${t.name}`)
      }
    }
  }
}
const NO_PROJ = 'Extra keywords are refused as PyTorch refuses them (proj_size: LSTM only).'

export const rnn = defineModule({
  name: 'RNN',
  pyModule,
  initClass: 'RNNBase',
  acceptsDevice: true,
  doc: (init) => 'Multi-layer Elman RNN with tanh or ReLU. Per layer k (suffix _reverse for the backward direction): ' +
    'weight_ih_l{k} (hidden_size, input_size for k=0 else num_directions*hidden_size), weight_hh_l{k} (hidden_size, hidden_size), ' +
    `bias_ih_l{k}, bias_hh_l{k} (hidden_size). ${init} ${NO_PROJ}`,
  signature: { ...head, nonlinearity: py('str', 'tanh'), ...tail, ...factory, kwargs: extraKwargs },
  build (a, ctx) {
    rejectProjSize(a.kwargs, ctx)
    if (a.nonlinearity !== 'tanh' && a.nonlinearity !== 'relu') {
      ctx.fail(`Unknown nonlinearity '${pyStr(a.nonlinearity)}'. Select from 'tanh' or 'relu'.`)
    }
    rejectExtraKwargs(a.kwargs, ctx)
    return rnnBase(a.nonlinearity === 'tanh' ? 'RNN_TANH' : 'RNN_RELU', { ...a, proj_size: 0 }, ctx)
  },
  init: recurrentInit,
  repr: rnnRepr
})

export const lstm = defineModule({
  name: 'LSTM',
  pyModule,
  initClass: 'RNNBase',
  acceptsDevice: true,
  doc: (init) => 'Multi-layer long short-term memory RNN. Per layer k (suffix _reverse for the backward direction): ' +
    'weight_ih_l{k} (4*hidden_size, input_size for k=0 else num_directions*H_out), weight_hh_l{k} (4*hidden_size, H_out), ' +
    'bias_ih_l{k}, bias_hh_l{k} (4*hidden_size), and with proj_size > 0 weight_hr_l{k} (proj_size, hidden_size); ' +
    `H_out is proj_size if > 0 else hidden_size. ${init}`,
  signature: { ...head, ...tail, proj_size: py('int', 0), ...factory },
  build: (a, ctx) => rnnBase('LSTM', a, ctx),
  init: recurrentInit,
  repr: rnnRepr
})

export const gru = defineModule({
  name: 'GRU',
  pyModule,
  initClass: 'RNNBase',
  acceptsDevice: true,
  doc: (init) => 'Multi-layer gated recurrent unit RNN. Per layer k (suffix _reverse for the backward direction): ' +
    'weight_ih_l{k} (3*hidden_size, input_size for k=0 else num_directions*hidden_size), weight_hh_l{k} (3*hidden_size, hidden_size), ' +
    `bias_ih_l{k}, bias_hh_l{k} (3*hidden_size). ${init} ${NO_PROJ}`,
  signature: { ...head, ...tail, ...factory, kwargs: extraKwargs },
  build (a, ctx) {
    rejectProjSize(a.kwargs, ctx)
    rejectExtraKwargs(a.kwargs, ctx)
    return rnnBase('GRU', { ...a, proj_size: 0 }, ctx)
  },
  init: recurrentInit,
  repr: rnnRepr
})

// ---------------------------------------------------------------------------------------------
// RNNCellBase: no argument checks of its own, so torch.empty's messages are what users see.

function cell (chunks: number, a: { input_size: unknown, hidden_size: unknown, bias: boolean, dtype: DType | null }, ctx: BuildContext): { tensors: OwnTensor[] } {
  const dtype = a.dtype ?? DEFAULT_DTYPE
  const rows = pyIntTimes(chunks, a.hidden_size, ctx.fail)
  const tensors = [
    emptyParameter('weight_ih', [rows, a.input_size], dtype, ctx.fail),
    emptyParameter('weight_hh', [rows, a.hidden_size], dtype, ctx.fail)
  ]
  if (a.bias) {
    tensors.push(emptyParameter('bias_ih', [rows], dtype, ctx.fail))
    tensors.push(emptyParameter('bias_hh', [rows], dtype, ctx.fail))
  }
  return { tensors }
}

const cellHead = { input_size: py('int'), hidden_size: py('int'), bias: arg.bool(true) }
const cellDoc = (what: string, chunks: string) => (init: string): string =>
  `${what}. weight_ih (${chunks}hidden_size, input_size), weight_hh (${chunks}hidden_size, hidden_size), ` +
  `bias_ih, bias_hh (${chunks}hidden_size). ${init}`

export const rnnCell = defineModule({
  name: 'RNNCell',
  pyModule,
  acceptsDevice: true,
  doc: cellDoc('An Elman RNN cell with tanh or ReLU (nonlinearity is only checked in forward)', ''),
  signature: { ...cellHead, nonlinearity: py('str', 'tanh'), ...factory },
  build: (a, ctx) => cell(1, a, ctx),
  init: recurrentInit,
  repr: cellRepr
})

export const lstmCell = defineModule({
  name: 'LSTMCell',
  pyModule,
  acceptsDevice: true,
  doc: cellDoc('A long short-term memory cell', '4*'),
  signature: { ...cellHead, ...factory },
  build: (a, ctx) => cell(4, a, ctx),
  init: recurrentInit,
  repr: cellRepr
})

export const gruCell = defineModule({
  name: 'GRUCell',
  pyModule,
  acceptsDevice: true,
  doc: cellDoc('A gated recurrent unit cell', '3*'),
  signature: { ...cellHead, ...factory },
  build: (a, ctx) => cell(3, a, ctx),
  init: recurrentInit,
  repr: cellRepr
})

export const defs: AnyModuleDef[] = [rnn, lstm, gru, rnnCell, lstmCell, gruCell]
