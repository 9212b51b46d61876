// One state_dict entry, described without memory.
import type { DType } from './dtype.js'
import type { TensorKind } from '../schemas/vocabulary.js'

export interface TensorInfo {
  /** dotted, e.g. "layers.3.self_attn.in_proj_weight" */
  name: string
  kind: TensorKind
  shape: number[]
  dtype: DType
  stride: number[]
  numel: number
  nbytes: number
  requiresGrad: boolean
  persistent: boolean
  /** set on the later of two tied tensors: the name of the first one (state_dict order) */
  tiedTo?: string
}

export interface TensorSpec extends TensorInfo {
  /** constructor value of a buffer (BatchNorm running_mean 0, running_var 1, num_batches_tracked 0),
      so an "empty" materialization still fills buffers; undefined for parameters */
  fill?: number
  /** constructor values of a buffer element by element (a rotary embedding's inv_freq), as numbers of its dtype */
  values?: number[]
}
