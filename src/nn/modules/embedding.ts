// torch/nn/modules/sparse.py
import { materiaError } from '../../errors.js'
import { arg } from '../args.js'
import { argError } from '../bind-args.js'
import { DEFAULT_DTYPE } from '../../tensor/dtype.js'
import { type AnyModuleDef, defineModule, type ModuleInit, parameter } from '../define.js'

const pyModule = 'torch.nn.modules.sparse'

/** Both classes check padding_idx the same way, with different capitalization (and transformers' scaled embeddings, subclasses of Embedding). */
export function checkPaddingIdx (paddingIdx: number | null, num: number, what: string): void {
  if (paddingIdx === null) return
  if ((paddingIdx > 0 && paddingIdx >= num) || (paddingIdx < 0 && paddingIdx < -num)) {
    argError(`${what} must be within num_embeddings`)
  }
}

// A Tensor cannot travel in JSON; values belong in a checkpoint materialization instead.
function noWeight (w: unknown): void {
  if (w !== null) {
    throw materiaError('weightArgument', {})
  }
}

/** Embedding/EmbeddingBag.reset_parameters(): normal_(weight), then weight[padding_idx].fill_(0). */
export const embeddingInit: ModuleInit<{ padding_idx: number | null }> = {
  doc: 'N(0, 1), with the padding_idx row zeroed',
  reset (a, m, init) {
    const weight = m.tensor('weight')
    init.normal(weight, 0, 1, `normal_ on ${m.name}.weight`)
    if (a.padding_idx === null) return
    const rows = weight.shape[0] as number
    init.fillRow(weight, a.padding_idx < 0 ? rows + a.padding_idx : a.padding_idx, 0)
  }
}

/** __init__ stores a negative padding_idx as num_embeddings + padding_idx. */
const paddingIdx = (a: { padding_idx: number | null, num_embeddings: number }): string =>
  a.padding_idx === null ? 'None' : String(a.padding_idx < 0 ? a.num_embeddings + a.padding_idx : a.padding_idx)

export const embedding = defineModule({
  name: 'Embedding',
  pyModule,
  acceptsDevice: true,
  doc: (init) => `A lookup table of num_embeddings vectors of size embedding_dim. weight: (num_embeddings, embedding_dim) ~ ${init}. ` +
    '_freeze=True makes weight not require grad; _weight is not supported.',
  signature: {
    num_embeddings: arg.dim(),
    embedding_dim: arg.dim(),
    padding_idx: arg.optional(arg.int()),
    max_norm: arg.optional(arg.float()),
    norm_type: arg.float(2.0),
    scale_grad_by_freq: arg.bool(false),
    sparse: arg.bool(false),
    _weight: arg.typed('Optional[Tensor]', arg.any(null)),
    _freeze: arg.bool(false),
    device: arg.device(),
    dtype: arg.dtype()
  },
  build (a) {
    checkPaddingIdx(a.padding_idx, a.num_embeddings, 'Padding_idx')
    noWeight(a._weight)
    return { tensors: [parameter('weight', [a.num_embeddings, a.embedding_dim], a.dtype ?? DEFAULT_DTYPE, { requiresGrad: !a._freeze })] }
  },
  init: embeddingInit,
  repr (a, r) {
    let s = `${r.str('num_embeddings')}, ${r.str('embedding_dim')}`
    if (a.padding_idx !== null) s += `, padding_idx=${paddingIdx(a)}`
    if (a.max_norm !== null) s += `, max_norm=${r.str('max_norm')}`
    if (a.norm_type !== 2) s += `, norm_type=${r.str('norm_type')}`
    if (a.scale_grad_by_freq) s += `, scale_grad_by_freq=${r.str('scale_grad_by_freq')}`
    if (a.sparse) s += ', sparse=True'
    return s
  }
})

export const embeddingBag = defineModule({
  name: 'EmbeddingBag',
  pyModule,
  acceptsDevice: true,
  doc: (init) => "Sums, averages or maxes bags of embeddings (mode 'sum' | 'mean' | 'max', checked by PyTorch only at forward). " +
    `weight: (num_embeddings, embedding_dim) ~ ${init}. _weight is not supported.`,
  signature: {
    num_embeddings: arg.dim(),
    embedding_dim: arg.dim(),
    max_norm: arg.optional(arg.float()),
    norm_type: arg.float(2.0),
    scale_grad_by_freq: arg.bool(false),
    mode: arg.typed("Literal['sum', 'mean', 'max']", arg.str('mean')),
    sparse: arg.bool(false),
    _weight: arg.typed('Optional[Tensor]', arg.any(null)),
    include_last_offset: arg.bool(false),
    padding_idx: arg.optional(arg.int()),
    device: arg.device(),
    dtype: arg.dtype()
  },
  build (a) {
    checkPaddingIdx(a.padding_idx, a.num_embeddings, 'padding_idx')
    noWeight(a._weight)
    return { tensors: [parameter('weight', [a.num_embeddings, a.embedding_dim], a.dtype ?? DEFAULT_DTYPE)] }
  },
  init: embeddingInit,
  repr (a, r) {
    let s = `${r.repr('num_embeddings')}, ${r.repr('embedding_dim')}`
    if (a.max_norm !== null) s += `, max_norm=${r.repr('max_norm')}`
    if (a.norm_type !== 2) s += `, norm_type=${r.repr('norm_type')}`
    if (a.scale_grad_by_freq) s += `, scale_grad_by_freq=${r.repr('scale_grad_by_freq')}`
    s += `, mode=${r.repr('mode')}`
    if (a.padding_idx !== null) s += `, padding_idx=${paddingIdx(a)}`
    return s
  }
})

export const defs: AnyModuleDef[] = [embedding, embeddingBag]
