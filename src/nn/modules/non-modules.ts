// Names a user may plausibly pass that are classes but not torch.nn.Module subclasses.
// `typename` is torch.typename(cls), which repr(cls) wraps as "<class '...'>" (checked against
// PyTorch 2.13: torch.optim.Muon really lives at torch.optim.Muon).

export interface NonModuleClass {
  /** public spelling, e.g. 'torch.optim.SGD' */
  readonly name: string
  readonly typename: string
}

function optim (name: string, file: string): NonModuleClass {
  return { name: `torch.optim.${name}`, typename: `torch.optim.${file}.${name}` }
}

export const NON_MODULES: readonly NonModuleClass[] = [
  { name: 'torch.Tensor', typename: 'torch.Tensor' },
  { name: 'torch.nn.Parameter', typename: 'torch.nn.parameter.Parameter' },
  { name: 'torch.nn.Buffer', typename: 'torch.nn.parameter.Buffer' },
  { name: 'torch.Size', typename: 'torch.Size' },
  { name: 'torch.dtype', typename: 'torch.dtype' },
  { name: 'torch.device', typename: 'torch.device' },
  { name: 'torch.Generator', typename: 'torch._C.Generator' },
  optim('Optimizer', 'optimizer'),
  optim('SGD', 'sgd'),
  optim('Adam', 'adam'),
  optim('AdamW', 'adamw'),
  optim('Adagrad', 'adagrad'),
  optim('Adadelta', 'adadelta'),
  optim('Adamax', 'adamax'),
  optim('ASGD', 'asgd'),
  optim('LBFGS', 'lbfgs'),
  optim('NAdam', 'nadam'),
  optim('RAdam', 'radam'),
  optim('RMSprop', 'rmsprop'),
  optim('Rprop', 'rprop'),
  optim('SparseAdam', 'sparse_adam'),
  { name: 'torch.optim.Muon', typename: 'torch.optim.Muon' }
]

/** Every spelling that names the class: 'torch.optim.SGD', 'optim.SGD', 'torch.optim.sgd.SGD', 'nn.Parameter'. */
export function nonModuleSpellings (c: NonModuleClass): string[] {
  const out = new Set([c.name, c.typename, c.name.replace(/^torch\./, '')])
  return [...out]
}
