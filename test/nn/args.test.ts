// Argument binding and coercion: messages as CPython 3.11 prints them (checked against the
// interpreter with small classes of the same shapes), and Python reprs used inside PyTorch texts.
import t from 'tap'
import { arg } from '../../src/nn/args.js'
import { bindAndCoerce, bindArguments, type Signature } from '../../src/nn/bind-args.js'
import { pyFloatRepr, pyRepr, pyStrRepr, pyValueRepr } from '../../src/nn/py-repr.js'
import { MateriaError } from '../../src/errors.js'

// class F: def __init__(self, a, b, c, d=1, *, e, g=2)
const F: Signature = { a: arg.int(), b: arg.int(), c: arg.int(), d: arg.int(1), e: arg.kwOnly(arg.int()), g: arg.kwOnly(arg.int(2)) }
// class V: def __init__(self, a, *args, b=1, **kw)
const V: Signature = { a: arg.int(), args: arg.varArgs(arg.any()), b: arg.kwOnly(arg.int(1)), kw: arg.varKwargs(arg.any()) }
const H: Signature = {}
const K: Signature = { a: arg.int() }

function message (fn: string, sig: Signature, args: unknown[], kwargs: Record<string, unknown> = {}): string {
  try {
    bindArguments(fn, sig, args, kwargs)
  } catch (err) {
    if (err instanceof MateriaError) return `${err.statusCode} ${err.message}`
    throw err
  }
  return 'ok'
}

t.test('binding errors read like CPython 3.11', async t => {
  const cases: Array<[string, Signature, unknown[], Record<string, unknown>, string]> = [
    ['F', F, [], {}, "F.__init__() missing 3 required positional arguments: 'a', 'b', and 'c'"],
    ['F', F, [1, 2], {}, "F.__init__() missing 1 required positional argument: 'c'"],
    ['F', F, [1, 2, 3], {}, "F.__init__() missing 1 required keyword-only argument: 'e'"],
    ['F', F, [1, 2, 3, 4, 5], {}, 'F.__init__() takes from 4 to 5 positional arguments but 6 were given'],
    ['F', F, [1, 2, 3, 4, 5], { e: 1 }, 'F.__init__() takes from 4 to 5 positional arguments but 6 positional arguments (and 1 keyword-only argument) were given'],
    ['F', F, [1, 2, 3, 4, 5], { e: 1, g: 2 }, 'F.__init__() takes from 4 to 5 positional arguments but 6 positional arguments (and 2 keyword-only arguments) were given'],
    ['F', F, [1, 2, 3, 4, 5, 6], { e: 1 }, 'F.__init__() takes from 4 to 5 positional arguments but 7 positional arguments (and 1 keyword-only argument) were given'],
    ['F', F, [], { self: 1 }, "F.__init__() got multiple values for argument 'self'"],
    ['F', F, [1, 2, 3, 4, 5], { zz: 1 }, "F.__init__() got an unexpected keyword argument 'zz'"],
    ['F', F, [1], { a: 2 }, "F.__init__() got multiple values for argument 'a'"],
    ['H', H, [1], {}, 'H.__init__() takes 1 positional argument but 2 were given'],
    ['H', H, [1, 2], {}, 'H.__init__() takes 1 positional argument but 3 were given'],
    ['K', K, [1, 2], {}, 'K.__init__() takes 2 positional arguments but 3 were given'],
    ['K', K, [1, 2], { a: 3 }, "K.__init__() got multiple values for argument 'a'"],
    ['K', K, [], { e: 1, f: 2 }, "K.__init__() got an unexpected keyword argument 'e'"],
    ['V', V, [], {}, "V.__init__() missing 1 required positional argument: 'a'"],
    ['V', V, [1, 2, 3], { c: 4, a: 5 }, "V.__init__() got multiple values for argument 'a'"]
  ]
  for (const [name, sig, args, kwargs, expected] of cases) {
    t.equal(message(`${name}.__init__`, sig, args, kwargs), `400 ${expected}`, `${name}(${JSON.stringify(args)}, ${JSON.stringify(kwargs)})`)
  }
})

t.test('binding fills defaults, *args and **kwargs, and reports what was given', async t => {
  const { raw, given } = bindArguments('V.__init__', V, [1, 2, 3], { b: 4, x: 5 })
  t.strictSame(raw, { a: 1, args: [2, 3], b: 4, kw: { x: 5 } })
  t.strictSame([...given].sort(), ['a', 'b'])
  const f = bindAndCoerce('F.__init__', F, [1, 2, 3], { e: 5 })
  t.strictSame(f, { a: 1, b: 2, c: 3, d: 1, e: 5, g: 2 })
})

t.test('coercers', async t => {
  const sig = {
    n: arg.int(),
    x: arg.float(0.5),
    flag: arg.bool(true),
    k: arg.intTuple(2, 1),
    shape: arg.shape(),
    dtype: arg.dtype(),
    device: arg.device(),
    opt: arg.optional(arg.int())
  }
  const a = bindAndCoerce('C.__init__', sig, [3], { k: 4, shape: 7, dtype: 'torch.float16', device: 'cpu' })
  t.strictSame(a, { n: 3, x: 0.5, flag: true, k: [4, 4], shape: [7], dtype: 'float16', device: 'cpu', opt: null })
  t.strictSame(bindAndCoerce('C.__init__', sig, [true, 1, 0, [1, 2, 3], [2, 3]], { dtype: 'float32', opt: 2 }),
    { n: 1, x: 1, flag: false, k: [1, 2, 3], shape: [2, 3], dtype: 'float32', device: null, opt: 2 }, 'bools are ints; _ntuple keeps any length')
  const err = (kwargs: Record<string, unknown>): string => {
    try {
      bindAndCoerce('C.__init__', sig, [1], { shape: 1, ...kwargs })
    } catch (e) {
      return (e as Error).message
    }
    return 'ok'
  }
  t.equal(err({ x: 'a' }), "C.__init__(): argument 'x' must be float, not str")
  t.equal(err({ flag: 'false' }), "C.__init__(): argument 'flag' must be bool, not str", 'a string is not silently truthy')
  t.equal(err({ dtype: 'float8' }), "empty(): argument 'dtype' must be torch.dtype, not str")
  t.equal(err({ device: 'cuda' }), 'C.__init__(): unsupported device \'cuda\'; expected "meta", "cpu" or "worker"')
  t.equal(err({ k: 2.5 }), "C.__init__(): argument 'k' must be int, not float")
  t.match(err({ opt: 2 ** 60 }), /outside the exactly representable integer range/)
})

t.test('Python reprs', async t => {
  t.equal(pyFloatRepr(1e-5), '1e-05')
  t.equal(pyFloatRepr(0.0001), '0.0001')
  t.equal(pyFloatRepr(-2.5e-7), '-2.5e-07')
  t.equal(pyFloatRepr(1e16), '1e+16')
  t.equal(pyFloatRepr(1234567890123456), '1234567890123456.0')
  t.equal(pyFloatRepr(1 / 3), '0.3333333333333333')
  t.equal(pyFloatRepr(-1), '-1.0')
  t.equal(pyRepr(2), '2')
  t.equal(pyRepr(1.5), '1.5')
  t.equal(pyStrRepr('module name can\'t contain ".", got: a.b'), '\'module name can\\\'t contain ".", got: a.b\'')
  t.equal(pyStrRepr("attribute 'keys' already exists"), '"attribute \'keys\' already exists"')
  t.equal(pyValueRepr([0.5, 1.5, null, true, 'a']), "[0.5, 1.5, None, True, 'a']")
})
