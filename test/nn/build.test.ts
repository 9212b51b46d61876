// The spec → tree → flat table machinery: order, ties, limits, echo, names, catalog.
import t from 'tap'
import { buildModule, getModuleClass, listModuleClasses, lookupClass, LIMITS } from '../../src/nn/index.js'
import { flatten } from '../../src/nn/build.js'
import { buffer, defineModule, MODULE_TAG, type ModuleNode, type OwnTensor, parameter } from '../../src/nn/define.js'
import { errorDefs, MateriaError } from '../../src/errors.js'

function failure (spec: unknown): { status: number, code: string, message: string } {
  try {
    buildModule(spec)
  } catch (err) {
    if (err instanceof MateriaError) return { status: err.statusCode, code: err.code, message: err.message }
    throw err
  }
  throw new Error('expected buildModule to throw')
}

const lin = (a: number, b: number): unknown => ({ class: 'Linear', args: [a, b] })

t.test('state_dict order: own parameters, own buffers, then children; strides and sizes', async t => {
  const m = buildModule({ class: 'Sequential', args: [lin(2, 3), { class: 'BatchNorm1d', args: [3] }] })
  t.strictSame(m.tensors.map((x) => x.name), ['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var', '1.num_batches_tracked'])
  const [w] = m.tensors
  t.strictSame(w, {
    name: '0.weight',
    kind: 'parameter',
    shape: [3, 2],
    dtype: 'float32',
    stride: [2, 1],
    numel: 6,
    nbytes: 24,
    requiresGrad: true,
    persistent: true
  })
  const counter = m.tensors[6]
  t.strictSame([counter?.shape, counter?.stride, counter?.numel, counter?.nbytes, counter?.dtype, counter?.fill], [[], [], 1, 8, 'int64', 0])
  t.equal(m.tensors[4]?.fill, 0, 'running_mean starts at 0')
  t.equal(m.tensors[5]?.fill, 1, 'running_var starts at 1')
  t.equal(m.tensors[0]?.fill, undefined, 'parameters have no fill')
})

t.test('non-persistent buffers come last, in named_buffers order', async t => {
  const def = defineModule({ name: 'Fake', pyModule: 'test', acceptsDevice: false, doc: '', signature: {}, build: () => ({}) })
  const node = (tensors: OwnTensor[], children: Array<[string, ModuleNode | null]> = []): ModuleNode => ({
    [MODULE_TAG]: true,
    id: 0,
    def,
    name: 'Fake',
    qualname: 'test.Fake',
    bound: {},
    raw: {},
    given: new Set(),
    tensors,
    children,
    ties: [],
    moduleCount: 1,
    tensorCount: tensors.length,
    depth: 1
  })
  const child = node([buffer('cache', [2], 'float32', undefined, { persistent: false }), parameter('w', [2], 'float32')])
  const root = node([buffer('mask', [4], 'bool', 0, { persistent: false }), buffer('b', [1], 'float32', 1), parameter('p', [3], 'float32')],
    [['c', child], ['none', null]])
  const names = flatten(root).map((x) => [x.name, x.persistent])
  t.strictSame(names, [['p', true], ['b', true], ['c.w', true], ['mask', false], ['c.cache', false]])
})

t.test('ties', async t => {
  const spec = (ties: unknown): unknown => ({ class: 'Sequential', args: [lin(3, 3), { class: 'ReLU' }, lin(3, 3)], ties })
  for (const ties of [[['0.weight', '2.weight']], [['2.weight', '0.weight']]]) {
    const m = buildModule(spec(ties))
    t.strictSame(m.tensors.map((x) => x.tiedTo ?? null), [null, null, '0.weight', null], `${JSON.stringify(ties)}: the later one points at the first`)
  }
  const chained = buildModule(spec([['2.weight', '0.weight'], ['2.bias', '0.bias']]))
  t.strictSame(chained.tensors.map((x) => x.tiedTo ?? null), [null, null, '0.weight', '0.bias'])
  const nested = buildModule({ class: 'ModuleList', args: [[{ class: 'Sequential', args: [lin(3, 3), lin(3, 3)], ties: [['1.weight', '0.weight']] }]] })
  t.strictSame(nested.tensors.map((x) => x.tiedTo ?? null), [null, null, '0.0.weight', null], 'ties in a nested spec are relative to it')
  t.strictSame(nested.args, [[{ class: 'torch.nn.Sequential', args: [{ class: 'torch.nn.Linear', args: [3, 3] }, { class: 'torch.nn.Linear', args: [3, 3] }], ties: [['1.weight', '0.weight']] }]])

  const shape = failure({ class: 'Sequential', args: [lin(3, 3), lin(3, 4)], ties: [['0.weight', '1.weight']] })
  t.equal(shape.code, errorDefs.badTie.code)
  t.match(shape.message, /shape and dtype must match/)
  t.equal(failure(spec([['0.weight', 'x.weight']])).message, "Cannot tie 'x.weight': Sequential has no tensor of that name")
  t.equal(failure(spec('nope')).code, errorDefs.badTie.code)
})

t.test('limits', async t => {
  let deep: unknown = lin(1, 1)
  for (let i = 0; i < LIMITS.maxDepth; i++) deep = { class: 'Sequential', args: [deep] }
  const d = failure(deep)
  t.equal(d.code, errorDefs.specTooLarge.code)
  t.match(d.message, /deeper than 64/)
  let ok: unknown = lin(1, 1)
  for (let i = 0; i < LIMITS.maxDepth - 1; i++) ok = { class: 'Sequential', args: [ok] }
  t.equal(buildModule(ok).tensors[0]?.name, `${'0.'.repeat(LIMITS.maxDepth - 1)}weight`, '64 levels build')

  const many = failure({ class: 'ModuleList', args: [new Array(LIMITS.maxModules).fill({ class: 'Identity' })] })
  t.equal(many.code, errorDefs.specTooLarge.code)

  const big = buildModule({ class: 'Linear', args: [1_000_000, 1_000_000], kwargs: { bias: false } })
  t.strictSame([big.tensors[0]?.numel, big.tensors[0]?.nbytes], [1e12, 4e12], 'a 10^12-parameter module builds on meta')
  t.equal(failure({ class: 'Linear', args: [2 ** 30, 2 ** 30] }).code, errorDefs.specTooLarge.code, 'nbytes beyond 2^53')
  t.equal(failure({ class: 'Linear', args: [2 ** 40, 2 ** 40] }).message, 'Storage size calculation overflowed with sizes=[1099511627776, 1099511627776]')
  t.match(failure({ class: 'Linear', args: [2 ** 60, 1] }).message, /outside the exactly representable integer range/)
})

t.test('names, echo and non-modules', async t => {
  for (const name of ['Linear', 'nn.Linear', 'torch.nn.Linear', 'torch.nn.modules.linear.Linear']) {
    const m = buildModule({ class: name, args: [2, 1], kwargs: { dtype: 'torch.float16' } })
    t.equal(m.qualname, 'torch.nn.Linear', name)
    t.equal(m.tensors[0]?.dtype, 'float16')
  }
  const m = buildModule({ class: 'nn.Sequential', args: [{ class: 'Linear', args: [2, 1] }, { class: 'nn.ReLU' }] })
  t.strictSame(m.args, [{ class: 'torch.nn.Linear', args: [2, 1] }, { class: 'torch.nn.ReLU' }], 'nested names are qualified')
  t.strictSame(m.kwargs, {})
  t.equal(m.acceptsDevice, false)
  t.equal(buildModule(lin(1, 1)).acceptsDevice, true)

  const top = failure({ class: 'torch.optim.SGD' })
  t.strictSame([top.status, top.code, top.message], [400, errorDefs.notAModule.code, "Expected a Module; got <class 'torch.optim.sgd.SGD'>"])
  t.equal(failure({ class: 'Sequential', args: [{ class: 'nn.Parameter' }] }).message, 'torch.nn.parameter.Parameter is not a Module subclass')
  const unknown = failure({ class: 'Sequential', args: [{ class: 'Lnear', args: [1, 1] }] })
  t.strictSame([unknown.status, unknown.code], [404, errorDefs.unknownClass.code])
  t.match(unknown.message, /^Unknown module class 'Lnear'\. Close matches: torch\.nn\.Linear/)
  t.equal(failure({ class: 'Linear', args: [1, 1], kwargs: { device: 'cuda:0' } }).status, 400)
  t.equal(buildModule({ class: 'Linear', args: [1, 1], kwargs: { device: 'worker' } }).tensors.length, 2)
})

t.test('malformed specs', async t => {
  t.match(failure(null).message, /must be an object/)
  t.match(failure({ args: [] }).message, /needs a string 'class'/)
  t.match(failure({ class: 'Linear', args: {} }).message, /'args' of Linear must be a list/)
  t.match(failure({ class: 'Linear', kwargs: [] }).message, /'kwargs' of Linear must be an object/)
  t.match(failure({ class: 'Linear', arg: [1, 2] }).message, /Unknown key 'arg'/)
  let nested: unknown = 1
  for (let i = 0; i < 300; i++) nested = [nested]
  t.equal(failure({ class: 'Identity', args: [nested] }).code, errorDefs.specTooLarge.code)
})

t.test('catalog', async t => {
  const all = listModuleClasses()
  const names = all.map((c) => c.name)
  t.strictSame(names, [...names].sort((a, b) => a < b ? -1 : a > b ? 1 : 0), 'sorted by name')
  t.equal(new Set(names).size, names.length, 'unique')
  for (const c of all) t.equal(c.acceptsDevice, c.signature.some((p) => p.name === 'device'), `${c.name}: acceptsDevice iff it has a device parameter`)
  const conv = getModuleClass('nn.Conv2d')
  t.equal(conv.qualname, 'torch.nn.Conv2d')
  t.strictSame(conv.signature.map((p) => p.name), ['in_channels', 'out_channels', 'kernel_size', 'stride', 'padding', 'dilation', 'groups', 'bias', 'padding_mode', 'device', 'dtype'])
  t.strictSame(conv.signature[3], { name: 'stride', kind: 'positional_or_keyword', required: false, type: '_size_2_t', default: 1 })
  t.strictSame(getModuleClass('BatchNorm2d').signature.at(-1), { name: 'bias', kind: 'keyword_only', required: false, type: 'bool', default: true })
  t.strictSame(getModuleClass('Sequential').signature, [{ name: 'args', kind: 'var_positional', required: false, type: 'Module' }])
  t.strictSame(lookupClass('torch.Tensor'), { kind: 'nonModule', pyClass: "<class 'torch.Tensor'>" })
  t.strictSame(lookupClass('nn.Parameter'), { kind: 'nonModule', pyClass: "<class 'torch.nn.parameter.Parameter'>" })
  t.strictSame(lookupClass('torch.optim.AdamW'), { kind: 'nonModule', pyClass: "<class 'torch.optim.adamw.AdamW'>" })
  t.equal(lookupClass('ReLU').kind, 'module')
  t.throws(() => getModuleClass('conv2D'), { statusCode: 404, message: /^Unknown module class 'conv2D'\. Close matches: torch\.nn\.Conv2d/ })
  t.throws(() => getModuleClass('Zzzzzzzzzzzz'), { statusCode: 404, message: /No close matches/ })
})
