// The one list of module classes (torch.nn's, then transformers'). A family file exports `defs`; add its import here.
import type { AnyModuleDef } from './define.js'
import { defs as activation } from './modules/activation.js'
import { defs as attention } from './modules/attention.js'
import { defs as containers } from './modules/containers.js'
import { defs as conv } from './modules/conv.js'
import { defs as dropout } from './modules/dropout.js'
import { defs as embedding } from './modules/embedding.js'
import { defs as linear } from './modules/linear.js'
import { defs as misc } from './modules/misc.js'
import { defs as normalization } from './modules/normalization.js'
import { defs as padding } from './modules/padding.js'
import { defs as pooling } from './modules/pooling.js'
import { defs as recurrent } from './modules/recurrent.js'
import { defs as transformer } from './modules/transformer.js'
import { TRANSFORMERS_MODULE_DEFS } from './transformers/index.js'

export const MODULE_DEFS: readonly AnyModuleDef[] = [
  ...linear,
  ...conv,
  ...embedding,
  ...normalization,
  ...activation,
  ...dropout,
  ...pooling,
  ...padding,
  ...containers,
  ...misc,
  ...recurrent,
  ...attention,
  ...transformer,
  // Hugging Face transformers classes (transformers.LlamaForCausalLM …), docs/transformers.md
  ...TRANSFORMERS_MODULE_DEFS
]
