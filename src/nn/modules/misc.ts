// Shape and distance helpers without tensors: flatten.py, upsampling.py, pixelshuffle.py,
// channelshuffle.py, distance.py, fold.py.
import { arg, toFloatOrFloats, toIntOrInts } from '../args.js'
import { argError, type BoundArgs, type CoerceCtx, type Signature } from '../bind-args.js'
import { pyFloatRepr, pyStrRepr, pyTypeName } from '../py-repr.js'
import { type AnyModuleDef, defineModule, type ReprContext } from '../define.js'

function plain<S extends Signature> (name: string, file: string, doc: string, signature: S, repr?: (a: BoundArgs<S>, r: ReprContext) => string) {
  return defineModule({
    name, pyModule: `torch.nn.modules.${file}`, acceptsDevice: false, doc: `${doc} No tensors.`, signature, build: () => ({}), ...(repr !== undefined ? { repr } : {})
  })
}

const foldRepr = (r: ReprContext): string =>
  `kernel_size=${r.str('kernel_size')}, dilation=${r.str('dilation')}, padding=${r.str('padding')}, stride=${r.str('stride')}`

/** Upsample.extra_repr: __init__ stores float(scale_factor) (a tuple of floats for a sequence) when it is truthy. */
function upsampleRepr (mode: string | undefined) {
  return (a: { scale_factor: number | number[] | null, mode?: string }, r: ReprContext): string => {
    const sf = a.scale_factor
    const truthy = sf !== null && (Array.isArray(sf) ? sf.length > 0 : sf !== 0)
    const info = truthy ? `scale_factor=${Array.isArray(sf) ? `(${sf.map(pyFloatRepr).join(', ')}${sf.length === 1 ? ',' : ''})` : pyFloatRepr(sf)}` : `size=${r.repr('size')}`
    return `${info}, mode=${pyStrRepr(mode ?? a.mode ?? 'nearest')}`
  }
}

/** Unflatten._require_tuple_int, with its TypeError texts. */
function unflattenedSize (v: unknown, _c: CoerceCtx): number[] {
  if (!Array.isArray(v)) argError(`unflattened_size must be a tuple of ints, but found type ${pyTypeName(v)}`)
  return v.map((e, i) => {
    if (typeof e === 'boolean') return e ? 1 : 0
    if (typeof e !== 'number' || !Number.isInteger(e)) {
      argError(`unflattened_size must be tuple of ints, but found element of type ${pyTypeName(e)} at pos ${i}`)
    }
    return e
  })
}

const anySize = (...def: [unknown?]) => arg.custom('_size_any_t', toIntOrInts, ...def)
const optSize = (n: number) => arg.optional(arg.custom(`_size_${n}_t`, toIntOrInts))
// JSON has no tuples: a list of scale factors is taken as the tuple PyTorch expects
const optRatio = (t: string) => arg.optional(arg.custom(t, toFloatOrFloats))

export const defs: AnyModuleDef[] = [
  plain('Flatten', 'flatten', 'Flattens dims start_dim..end_dim into one.', { start_dim: arg.int(1), end_dim: arg.int(-1) },
    (_a, r) => `start_dim=${r.str('start_dim')}, end_dim=${r.str('end_dim')}`),
  plain('Unflatten', 'flatten', 'Expands dim into unflattened_size.', {
    dim: arg.int(),
    unflattened_size: arg.custom('Union[torch.Size, List[int], Tuple[int, ...]]', unflattenedSize)
  }, (_a, r) => `dim=${r.str('dim')}, unflattened_size=${r.str('unflattened_size')}`),
  plain('Upsample', 'upsampling', "Upsamples by size or scale_factor with mode 'nearest', 'linear', 'bilinear', 'bicubic', 'trilinear' or 'nearest-exact'.", {
    size: arg.optional(anySize()),
    scale_factor: optRatio('_ratio_any_t'),
    mode: arg.str('nearest'),
    align_corners: arg.optional(arg.bool()),
    recompute_scale_factor: arg.optional(arg.bool())
  }, upsampleRepr(undefined)),
  plain('UpsamplingNearest2d', 'upsampling', '2D nearest-neighbour upsampling (deprecated for interpolate).', {
    size: optSize(2),
    scale_factor: optRatio('_ratio_2_t')
  }, upsampleRepr('nearest')),
  plain('UpsamplingBilinear2d', 'upsampling', '2D bilinear upsampling with align_corners=True (deprecated for interpolate).', {
    size: optSize(2),
    scale_factor: optRatio('_ratio_2_t')
  }, upsampleRepr('bilinear')),
  plain('PixelShuffle', 'pixelshuffle', '(*, C*r^2, H, W) → (*, C, H*r, W*r).', { upscale_factor: arg.int() },
    (_a, r) => `upscale_factor=${r.str('upscale_factor')}`),
  plain('PixelUnshuffle', 'pixelshuffle', '(*, C, H*r, W*r) → (*, C*r^2, H, W).', { downscale_factor: arg.int() },
    (_a, r) => `downscale_factor=${r.str('downscale_factor')}`),
  plain('ChannelShuffle', 'channelshuffle', 'Splits channels into groups and interleaves them.', { groups: arg.int() },
    (_a, r) => `groups=${r.str('groups')}`),
  plain('CosineSimilarity', 'distance', 'Cosine similarity along dim.', { dim: arg.int(1), eps: arg.float(1e-8) }),
  plain('PairwiseDistance', 'distance', 'p-norm distance between rows.', { p: arg.float(2.0), eps: arg.float(1e-6), keepdim: arg.bool(false) }),
  plain('Fold', 'fold', 'Combines sliding local blocks into a tensor (col2im).', {
    output_size: anySize(),
    kernel_size: anySize(),
    dilation: anySize(1),
    padding: anySize(0),
    stride: anySize(1)
  }, (_a, r) => `output_size=${r.str('output_size')}, ${foldRepr(r)}`),
  plain('Unfold', 'fold', 'Extracts sliding local blocks (im2col).', {
    kernel_size: anySize(),
    dilation: anySize(1),
    padding: anySize(0),
    stride: anySize(1)
  }, (_a, r) => foldRepr(r))
]
