// RNN, LSTM, GRU and the cells: layouts and messages hard-coded from PyTorch 2.13
// (`m.state_dict()` of the module built with device='meta').
import t, { type Test } from 'tap'
import { buildModule, buildModuleTree, getModuleClass } from '../../src/nn/index.js'
import { MateriaError, errorDefs } from '../../src/errors.js'
import { message } from './helpers.js'

type Row = [name: string, shape: number[], stride: number[], dtype?: string]

const BYTES: Record<string, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2 }

function layout (spec: unknown): Row[] {
  const built = buildModule(spec)
  return built.tensors.map((x) => {
    const row: Row = [x.name, x.shape, x.stride]
    if (x.dtype !== 'float32') row.push(x.dtype)
    return row
  })
}

/** Layout rows plus the fields every RNN tensor shares: a trainable, persistent parameter. */
function checkLayout (t: Test, spec: unknown, expected: Row[]): void {
  t.strictSame(layout(spec), expected, 'names, shapes, strides, dtypes in state_dict order')
  for (const x of buildModule(spec).tensors) {
    const numel = x.shape.reduce((a, b) => a * b, 1)
    if (x.kind !== 'parameter' || !x.requiresGrad || !x.persistent || x.numel !== numel || x.nbytes !== numel * (BYTES[x.dtype] ?? 0)) {
      t.fail(`${x.name}: expected a persistent trainable parameter with exact numel/nbytes`, x)
    }
  }
}

t.test('LSTM(6, 9, bidirectional=True)', async (t) => {
  checkLayout(t, { class: 'torch.nn.LSTM', args: [6, 9], kwargs: { bidirectional: true } }, [
    ['weight_ih_l0', [36, 6], [6, 1]],
    ['weight_hh_l0', [36, 9], [9, 1]],
    ['bias_ih_l0', [36], [1]],
    ['bias_hh_l0', [36], [1]],
    ['weight_ih_l0_reverse', [36, 6], [6, 1]],
    ['weight_hh_l0_reverse', [36, 9], [9, 1]],
    ['bias_ih_l0_reverse', [36], [1]],
    ['bias_hh_l0_reverse', [36], [1]]
  ])
})

t.test('LSTM(10, 20, num_layers=2, proj_size=5, bidirectional=True): weight_hr after the biases', async (t) => {
  checkLayout(t, { class: 'LSTM', args: [10, 20], kwargs: { num_layers: 2, proj_size: 5, bidirectional: true } }, [
    ['weight_ih_l0', [80, 10], [10, 1]],
    ['weight_hh_l0', [80, 5], [5, 1]],
    ['bias_ih_l0', [80], [1]],
    ['bias_hh_l0', [80], [1]],
    ['weight_hr_l0', [5, 20], [20, 1]],
    ['weight_ih_l0_reverse', [80, 10], [10, 1]],
    ['weight_hh_l0_reverse', [80, 5], [5, 1]],
    ['bias_ih_l0_reverse', [80], [1]],
    ['bias_hh_l0_reverse', [80], [1]],
    ['weight_hr_l0_reverse', [5, 20], [20, 1]],
    ['weight_ih_l1', [80, 10], [10, 1]],
    ['weight_hh_l1', [80, 5], [5, 1]],
    ['bias_ih_l1', [80], [1]],
    ['bias_hh_l1', [80], [1]],
    ['weight_hr_l1', [5, 20], [20, 1]],
    ['weight_ih_l1_reverse', [80, 10], [10, 1]],
    ['weight_hh_l1_reverse', [80, 5], [5, 1]],
    ['bias_ih_l1_reverse', [80], [1]],
    ['bias_hh_l1_reverse', [80], [1]],
    ['weight_hr_l1_reverse', [5, 20], [20, 1]]
  ])
})

t.test('LSTM(7, 6, 3, False, proj_size=2): later layers take proj_size inputs', async (t) => {
  checkLayout(t, { class: 'nn.LSTM', args: [7, 6, 3, false], kwargs: { proj_size: 2 } }, [
    ['weight_ih_l0', [24, 7], [7, 1]],
    ['weight_hh_l0', [24, 2], [2, 1]],
    ['weight_hr_l0', [2, 6], [6, 1]],
    ['weight_ih_l1', [24, 2], [2, 1]],
    ['weight_hh_l1', [24, 2], [2, 1]],
    ['weight_hr_l1', [2, 6], [6, 1]],
    ['weight_ih_l2', [24, 2], [2, 1]],
    ['weight_hh_l2', [24, 2], [2, 1]],
    ['weight_hr_l2', [2, 6], [6, 1]]
  ])
})

t.test('GRU(3, 4, bias=False)', async (t) => {
  checkLayout(t, { class: 'GRU', args: [3, 4], kwargs: { bias: false } }, [
    ['weight_ih_l0', [12, 3], [3, 1]],
    ['weight_hh_l0', [12, 4], [4, 1]]
  ])
})

t.test('GRU(3, 5, 2, bidirectional=True, dtype=bfloat16): layer 1 input is 2*hidden', async (t) => {
  checkLayout(t, { class: 'GRU', args: [3, 5, 2], kwargs: { bidirectional: true, dtype: 'torch.bfloat16' } }, [
    ['weight_ih_l0', [15, 3], [3, 1], 'bfloat16'],
    ['weight_hh_l0', [15, 5], [5, 1], 'bfloat16'],
    ['bias_ih_l0', [15], [1], 'bfloat16'],
    ['bias_hh_l0', [15], [1], 'bfloat16'],
    ['weight_ih_l0_reverse', [15, 3], [3, 1], 'bfloat16'],
    ['weight_hh_l0_reverse', [15, 5], [5, 1], 'bfloat16'],
    ['bias_ih_l0_reverse', [15], [1], 'bfloat16'],
    ['bias_hh_l0_reverse', [15], [1], 'bfloat16'],
    ['weight_ih_l1', [15, 10], [10, 1], 'bfloat16'],
    ['weight_hh_l1', [15, 5], [5, 1], 'bfloat16'],
    ['bias_ih_l1', [15], [1], 'bfloat16'],
    ['bias_hh_l1', [15], [1], 'bfloat16'],
    ['weight_ih_l1_reverse', [15, 10], [10, 1], 'bfloat16'],
    ['weight_hh_l1_reverse', [15, 5], [5, 1], 'bfloat16'],
    ['bias_ih_l1_reverse', [15], [1], 'bfloat16'],
    ['bias_hh_l1_reverse', [15], [1], 'bfloat16']
  ])
})

t.test("RNN(3, 4, 2, 'relu', dtype=float64): nonlinearity as the 4th positional", async (t) => {
  checkLayout(t, { class: 'RNN', args: [3, 4, 2, 'relu'], kwargs: { dtype: 'float64' } }, [
    ['weight_ih_l0', [4, 3], [3, 1], 'float64'],
    ['weight_hh_l0', [4, 4], [4, 1], 'float64'],
    ['bias_ih_l0', [4], [1], 'float64'],
    ['bias_hh_l0', [4], [1], 'float64'],
    ['weight_ih_l1', [4, 4], [4, 1], 'float64'],
    ['weight_hh_l1', [4, 4], [4, 1], 'float64'],
    ['bias_ih_l1', [4], [1], 'float64'],
    ['bias_hh_l1', [4], [1], 'float64']
  ])
})

t.test('cells', async (t) => {
  checkLayout(t, { class: 'RNNCell', args: [3, 4, false, 'relu'] }, [
    ['weight_ih', [4, 3], [3, 1]],
    ['weight_hh', [4, 4], [4, 1]]
  ])
  checkLayout(t, { class: 'LSTMCell', args: [3, 5] }, [
    ['weight_ih', [20, 3], [3, 1]],
    ['weight_hh', [20, 5], [5, 1]],
    ['bias_ih', [20], [1]],
    ['bias_hh', [20], [1]]
  ])
  checkLayout(t, { class: 'GRUCell', args: [3, 5], kwargs: { dtype: 'float16' } }, [
    ['weight_ih', [15, 3], [3, 1], 'float16'],
    ['weight_hh', [15, 5], [5, 1], 'float16'],
    ['bias_ih', [15], [1], 'float16'],
    ['bias_hh', [15], [1], 'float16']
  ])
  // RNNCell checks nonlinearity only in forward(); zero sizes are valid empty tensors
  t.equal(layout({ class: 'RNNCell', args: [3, 4], kwargs: { nonlinearity: 'x' } }).length, 4)
  t.strictSame(layout({ class: 'LSTMCell', args: [3, 0] }).map((r) => r[1]), [[0, 3], [0, 0], [0], [0]])
})

t.test('the tensors are the RNN module\'s own', async (t) => {
  const { root, built } = buildModuleTree({ class: 'LSTM', args: [2, 3] })
  t.equal(built.qualname, 'torch.nn.LSTM')
  t.ok(built.acceptsDevice)
  t.strictSame(root.children, [])
  t.strictSame(root.tensors.map((x) => x.name), built.tensors.map((x) => x.name))
})

t.test('catalog signatures are the documented overloads', async (t) => {
  const names = (c: string): string[] => getModuleClass(c).signature.map((p) => p.name)
  t.strictSame(names('LSTM'), ['input_size', 'hidden_size', 'num_layers', 'bias', 'batch_first', 'dropout', 'bidirectional', 'proj_size', 'device', 'dtype'])
  t.strictSame(names('RNN'), ['input_size', 'hidden_size', 'num_layers', 'nonlinearity', 'bias', 'batch_first', 'dropout', 'bidirectional', 'device', 'dtype', 'kwargs'])
  t.strictSame(names('GRUCell'), ['input_size', 'hidden_size', 'bias', 'device', 'dtype'])
})

t.test('PyTorch messages, in PyTorch order', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ class: 'RNN' }, "RNNBase.__init__() missing 2 required positional arguments: 'input_size' and 'hidden_size'"],
    [{ class: 'GRU', args: [3] }, "RNNBase.__init__() missing 1 required positional argument: 'hidden_size'"],
    [{ class: 'LSTM', args: [3, 4], kwargs: { foo: 1 } }, "RNNBase.__init__() got an unexpected keyword argument 'foo'"],
    [{ class: 'GRU', args: [3, 4], kwargs: { foo: 1 } }, "RNNBase.__init__() got an unexpected keyword argument 'foo'"],
    [{ class: 'LSTM', args: [3, 4], kwargs: { input_size: 3 } }, "RNNBase.__init__() got multiple values for argument 'input_size'"],
    [{ class: 'RNN', args: [3, 4], kwargs: { nonlinearity: 'x' } }, "Unknown nonlinearity 'x'. Select from 'tanh' or 'relu'."],
    [{ class: 'RNN', args: [3, 4, 1, null] }, "Unknown nonlinearity 'None'. Select from 'tanh' or 'relu'."],
    [{ class: 'RNN', args: [3, 4], kwargs: { proj_size: 1 } }, 'proj_size argument is only supported for LSTM, not RNN or GRU'],
    // checked before the nonlinearity, as RNN.__init__ does
    [{ class: 'RNN', args: [3, 4], kwargs: { proj_size: 0, nonlinearity: 'bad' } }, 'proj_size argument is only supported for LSTM, not RNN or GRU'],
    [{ class: 'GRU', args: [3, 4], kwargs: { proj_size: 0 } }, 'proj_size argument is only supported for LSTM, not RNN or GRU'],
    [{ class: 'LSTM', args: [3, 4], kwargs: { dropout: 2 } }, 'dropout should be a number in range [0, 1] representing the probability of an element being zeroed'],
    [{ class: 'LSTM', args: [3, 4], kwargs: { dropout: true } }, 'dropout should be a number in range [0, 1] representing the probability of an element being zeroed'],
    [{ class: 'LSTM', args: [3, 4], kwargs: { dropout: '0.5' } }, 'dropout should be a number in range [0, 1] representing the probability of an element being zeroed'],
    [{ class: 'LSTM', args: [3, 4], kwargs: { dropout: 'a' } }, "could not convert string to float: 'a'"],
    [{ class: 'LSTM', args: [3, 4], kwargs: { dropout: null } }, "float() argument must be a string or a real number, not 'NoneType'"],
    [{ class: 'LSTM', args: [3, 4], kwargs: { bias: 1 } }, 'bias should be of type bool, got: int'],
    [{ class: 'LSTM', args: [3, 4], kwargs: { batch_first: null } }, 'batch_first should be of type bool, got: NoneType'],
    [{ class: 'LSTM', args: [3.5, 4] }, 'input_size should be of type int, got: float'],
    [{ class: 'RNN', args: ['4', 8] }, 'input_size should be of type int, got: str'],
    [{ class: 'LSTM', args: [3, 4.5] }, 'hidden_size should be of type int, got: float'],
    [{ class: 'LSTM', args: [0, 4] }, 'input_size must be greater than zero'],
    [{ class: 'LSTM', args: [3, -1] }, 'hidden_size must be greater than zero'],
    [{ class: 'GRU', args: [3, 4, 0] }, 'num_layers must be greater than zero'],
    [{ class: 'LSTM', args: [3, 4, 1.5] }, "'float' object cannot be interpreted as an integer"],
    [{ class: 'LSTM', args: [3, 4, null] }, "'<=' not supported between instances of 'NoneType' and 'int'"],
    [{ class: 'LSTM', args: [3, 4], kwargs: { proj_size: -1 } }, 'proj_size should be a positive integer or zero to disable projections'],
    [{ class: 'LSTM', args: [3, 4], kwargs: { proj_size: 4 } }, 'proj_size has to be smaller than hidden_size'],
    [{ class: 'LSTM', args: [3, 4], kwargs: { proj_size: 2.5 } }, 'empty(): argument \'size\' failed to unpack the object at pos 2 with error "type must be tuple of ints,but got float"'],
    [{ class: 'LSTM', args: [3, 4], kwargs: { proj_size: true } }, "empty(): argument 'size' (position 1) must be tuple of ints, but found element of type bool at pos 0"],
    [{ class: 'LSTMCell', args: [4] }, "LSTMCell.__init__() missing 1 required positional argument: 'hidden_size'"],
    [{ class: 'GRUCell', args: [4, 8], kwargs: { num_layers: 2 } }, "GRUCell.__init__() got an unexpected keyword argument 'num_layers'"],
    [{ class: 'RNNCell', args: [3, -4] }, 'Trying to create tensor with negative dimension -4: [-4, 3]'],
    [{ class: 'LSTMCell', args: [3, -2] }, 'Trying to create tensor with negative dimension -8: [-8, 3]'],
    [{ class: 'RNNCell', args: [3.5, 4] }, 'empty(): argument \'size\' failed to unpack the object at pos 2 with error "type must be tuple of ints,but got float"'],
    [{ class: 'LSTMCell', args: [3, '4'] }, "empty(): argument 'size' (position 1) must be tuple of ints, but found element of type str at pos 0"],
    [{ class: 'LSTMCell', args: [3, null] }, "unsupported operand type(s) for *: 'int' and 'NoneType'"]
  ]
  for (const [spec, expected] of cases) t.equal(message(t, spec), expected, JSON.stringify(spec))
})

t.test('a huge num_layers is refused with specTooLarge', async (t) => {
  try {
    buildModule({ class: 'LSTM', args: [3, 4, 10_000_000] })
    t.fail('expected an error')
  } catch (err) {
    t.equal((err as MateriaError).code, errorDefs.specTooLarge.code)
  }
})
