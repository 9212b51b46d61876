// torch/nn/modules/padding.py: each class has its own __init__ that normalizes `padding` with
// _pair/_quadruple/_ntuple(6); no tensors.
import { arg } from '../args.js'
import { type AnyModuleDef, defineModule } from '../define.js'

type Mode = 'Zero' | 'Constant' | 'Reflection' | 'Replication' | 'Circular'

const what: Record<Mode, string> = {
  Zero: 'with zeros',
  Constant: 'with a constant value',
  Reflection: 'by reflecting the input at its boundary',
  Replication: 'by replicating the boundary values',
  Circular: 'circularly (wrapping around)'
}

function pad (mode: Mode, n: 1 | 2 | 3) {
  const count = 2 * n
  return defineModule({
    name: `${mode}Pad${n}d`,
    pyModule: 'torch.nn.modules.padding',
    acceptsDevice: false,
    doc: `Pads the last ${n} dimension${n === 1 ? '' : 's'} ${what[mode]}; padding is an int or a ${count}-tuple ` +
      '(left, right' + (n > 1 ? ', top, bottom' : '') + (n > 2 ? ', front, back' : '') + '). No tensors.',
    signature: {
      padding: arg.intTuple(count),
      ...(mode === 'Constant' ? { value: arg.float() } : {})
    },
    build: () => ({}),
    // _ConstantPadNd prints its value; ZeroPadNd, reflection, replication and circular the padding only
    repr: (_a, r) => mode === 'Constant' ? `padding=${r.tuple('padding')}, value=${r.str('value')}` : r.tuple('padding')
  })
}

const modes: Mode[] = ['Zero', 'Constant', 'Reflection', 'Replication', 'Circular']

export const defs: AnyModuleDef[] = modes.flatMap((m) => [pad(m, 1), pad(m, 2), pad(m, 3)])
