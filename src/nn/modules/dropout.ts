// torch/nn/modules/dropout.py: every class runs _DropoutNd.__init__.
import { arg } from '../args.js'
import { argError } from '../bind-args.js'
import { pyRepr } from '../py-repr.js'
import { type AnyModuleDef, defineModule } from '../define.js'

function dropout (name: string, doc: string) {
  return defineModule({
    name,
    pyModule: 'torch.nn.modules.dropout',
    initClass: '_DropoutNd',
    acceptsDevice: false,
    doc: `${doc} No tensors.`,
    signature: { p: arg.float(0.5), inplace: arg.bool(false) },
    build (a) {
      if (a.p < 0 || a.p > 1) argError(`dropout probability has to be between 0 and 1, but got ${pyRepr(a.p)}`)
      return {}
    },
    repr: (_a, r) => `p=${r.str('p')}, inplace=${r.str('inplace')}`
  })
}

export const defs: AnyModuleDef[] = [
  dropout('Dropout', 'Zeroes elements with probability p in training.'),
  dropout('Dropout1d', 'Zeroes whole channels of (N, C, L) inputs with probability p.'),
  dropout('Dropout2d', 'Zeroes whole channels of (N, C, H, W) inputs with probability p.'),
  dropout('Dropout3d', 'Zeroes whole channels of (N, C, D, H, W) inputs with probability p.'),
  dropout('AlphaDropout', 'Dropout that keeps the self-normalizing property (for SELU).'),
  dropout('FeatureAlphaDropout', 'Alpha dropout of whole channels.')
]
