// Memory estimates from a tensor table: what PyTorch would allocate, tied storage counted once,
// every buffer (also non-persistent) included; and the same module cast to other dtypes, as
// `accelerate estimate-memory` reports it.
import type { Static } from '@sinclair/typebox'
import { Estimate } from '../schemas/nn.js'
import { DTYPES } from '../tensor/dtype.js'
import type { TensorInfo } from './index.js'

/** The answer of POST /v1/estimate without the class name. */
export type ModuleEstimate = Omit<Static<typeof Estimate>, 'class'>
type EstimateDtype = keyof ModuleEstimate['byDtype']
type DtypeEstimate = ModuleEstimate['byDtype'][EstimateDtype]

/** The dtypes the schema lists, each cast to with its size from the dtype table. */
const estimateDtypes = Object.keys(Estimate.properties.byDtype.properties) as EstimateDtype[]

/** Adam keeps weights, gradients and two states (exp_avg, exp_avg_sq) in the parameter's dtype. */
const adamFactor = 4

export function estimateTensors (tensors: readonly TensorInfo[]): ModuleEstimate {
  const storages = tensors.filter((t) => t.tiedTo === undefined)
  const numel = storages.reduce((n, t) => n + t.numel, 0)
  const nbytes = storages.reduce((n, t) => n + t.nbytes, 0)
  const largest = storages.reduce<TensorInfo | undefined>((a, t) => (a === undefined || t.nbytes > a.nbytes ? t : a), undefined)
  const trainable = (t: TensorInfo): boolean => t.kind === 'parameter' && t.requiresGrad
  const adam = storages.reduce((n, t) => n + (trainable(t) ? adamFactor * t.nbytes : t.nbytes), 0)

  const byDtype = {} as Record<EstimateDtype, DtypeEstimate>
  for (const dtype of estimateDtypes) {
    const size = DTYPES[dtype].bytes
    let bytes = 0; let top = 0; let train = 0
    for (const t of storages) {
      const b = DTYPES[t.dtype].floating ? t.numel * size : t.nbytes
      bytes += b
      top = Math.max(top, b)
      train += trainable(t) ? adamFactor * b : b
    }
    byDtype[dtype] = { numel, nbytes: bytes, largestTensor: top, trainingAdam: train }
  }
  return {
    totals: { numel, nbytes },
    byDtype,
    largestTensor: { name: largest?.name ?? '', nbytes: largest?.nbytes ?? 0 },
    training: { adam }
  }
}
