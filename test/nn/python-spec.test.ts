// The Python literal subset of `{"python": ...}` specs: every literal kind, every syntax error with
// the column it names, and the bounds checked before the work.
import t, { type Test } from 'tap'
import { parsePythonSpec, jsonSpecOf } from '../../src/nn/python-spec/parse.js'
import { pythonOf } from '../../src/nn/python-spec/print.js'
import { LIMITS } from '../../src/nn/limits.js'
import { MateriaError } from '../../src/errors.js'

/** The single argument of X(...), parsed. */
const arg = (src: string): unknown => parsePythonSpec(`X(${src})`).args?.[0]

function fails (t: Test, src: string, code: string, message: string | RegExp): void {
  try {
    parsePythonSpec(src)
    t.fail(`${src} parsed`)
  } catch (err) {
    t.ok(err instanceof MateriaError, src)
    t.equal((err as MateriaError).code, code, `${src}: code`)
    if (typeof message === 'string') t.equal((err as Error).message, message, src)
    else t.match((err as Error).message, message, src)
  }
}

t.test('calls: bare, nn. and torch.nn. names, positional then keyword arguments', async (t) => {
  t.same(parsePythonSpec('Linear(4, 8)'), { class: 'Linear', args: [4, 8] })
  t.same(parsePythonSpec('nn.Linear(4, 8, bias=False)'), { class: 'nn.Linear', args: [4, 8], kwargs: { bias: false } })
  t.same(parsePythonSpec('torch.nn.ReLU()'), { class: 'torch.nn.ReLU' })
  t.same(parsePythonSpec('nn.Sequential(nn.Linear(4, 8), nn.ReLU(),)'), {
    class: 'nn.Sequential', args: [{ class: 'nn.Linear', args: [4, 8] }, { class: 'nn.ReLU' }]
  })
  t.same(parsePythonSpec('  nn.LSTM(\n  6,  # input\n  9,\n  bidirectional=True)\n'), { class: 'nn.LSTM', args: [6, 9], kwargs: { bidirectional: true } })
  t.same(parsePythonSpec('X(__proto__=1)').kwargs, JSON.parse('{"__proto__": 1}'), '__proto__ is a keyword like any other')
})

t.test('numbers: ints in every base, floats, exponents, underscores, unary minus and plus', async (t) => {
  const cases: Array<[string, number]> = [
    ['0', 0], ['42', 42], ['1_000', 1000], ['0x1F', 31], ['0o17', 15], ['0b101', 5], ['0X_ff', 255],
    ['1.5', 1.5], ['1.', 1], ['.25', 0.25], ['1e-5', 1e-5], ['1E+3', 1000], ['2.5e2', 250], ['1_0.0_1', 10.01],
    ['-3', -3], ['- 3', -3], ['+3', 3], ['--3', 3], ['-1e-05', -1e-5], ['-True', -1], ['-False', -0],
    ['9007199254740993', 9007199254740992]
  ]
  for (const [src, value] of cases) t.equal(arg(src), value, src)
  t.ok(Object.is(arg('-0.0'), -0), '-0.0 keeps its sign')
})

t.test('constants, strings, dtypes', async (t) => {
  t.equal(arg('True'), true)
  t.equal(arg('False'), false)
  t.equal(arg('None'), null)
  t.equal(arg("'mean'"), 'mean')
  t.equal(arg('"it\'s"'), "it's")
  t.equal(arg("'a\\'b\\\\c\\n\\t\\x41\\u00e9\\U0001F600\\101\\q'"), "a'b\\c\n\tAé😀A\\q")
  t.equal(arg("r'a\\nb'"), 'a\\nb', 'raw strings keep backslashes')
  t.equal(arg("u'x'"), 'x')
  t.equal(arg('torch.float16'), 'torch.float16')
  t.equal(arg('torch.half'), 'torch.half', 'aliases are dtypes too')
  t.same(parsePythonSpec('nn.Linear(2, 3, dtype=torch.bfloat16)').kwargs, { dtype: 'torch.bfloat16' })
})

t.test('tuples, lists, dicts, OrderedDict', async (t) => {
  t.same(arg('(3, 3)'), [3, 3])
  t.same(arg('(4,)'), [4])
  t.same(arg('()'), [])
  t.equal(arg('(4)'), 4, 'parentheses alone group')
  t.same(arg('[1, [2, (3,)], []]'), [1, [2, [3]], []])
  t.same(arg("{'a': nn.ReLU(), 'b': {'c': None},}"), { a: { class: 'nn.ReLU' }, b: { c: null } })
  t.same(arg('{}'), {})
  t.same(arg("OrderedDict([('fc', nn.Linear(1, 2)), ('act', nn.ReLU())])"), { fc: { class: 'nn.Linear', args: [1, 2] }, act: { class: 'nn.ReLU' } })
  t.same(arg("collections.OrderedDict({'a': 1}, b=2)"), { a: 1, b: 2 })
  t.same(arg('OrderedDict()'), {})
})

t.test('syntax errors name the column and what was expected', async (t) => {
  const code = 'MATERIA_ERR_NN_PYTHON_SYNTAX'
  const cases: Array<[string, string]> = [
    ['nn.Linear(4 8)', "SyntaxError at column 13: expected ',' or ')' after an argument of nn.Linear(…), got a number"],
    ['nn.Linear(4, 8', "SyntaxError at column 10: '(' was never closed"],
    ['nn.Sequential(nn.Linear(4, 8), [nn.ReLU()', "SyntaxError at column 32: '[' was never closed"],
    ["X({'a': 1", "SyntaxError at column 3: '{' was never closed"],
    ['nn.Linear(4, 8))', 'SyntaxError at column 16: expected the end of the expression, got \')\''],
    ['nn.Linear(bias=False, 4)', 'SyntaxError at column 23: positional argument follows keyword argument'],
    ['nn.Linear(4, 8, bias=1, bias=2)', 'SyntaxError at column 25: keyword argument repeated: bias'],
    ['nn.Identity(lambda=1)', "SyntaxError at column 13: 'lambda' is a Python keyword and cannot name an argument"],
    ['nn.Linear(4, *x)', "SyntaxError at column 14: '*' is not accepted: a spec holds literals, calls, lists, tuples and dicts"],
    ['nn.Linear(4, $)', "SyntaxError at column 14: invalid character '$' (U+0024)"],
    ['nn.Linear(4, x)', "SyntaxError at column 14: name 'x' is not a value here: a spec holds literals, calls of torch.nn classes, True, False, None and torch dtypes"],
    ['nn.Linear(4, dtype=torch.float99)', "SyntaxError at column 20: name 'torch.float99' is not a value here: a spec holds literals, calls of torch.nn classes, True, False, None and torch dtypes"],
    ['nn.Linear(4, 01)', 'SyntaxError at column 14: leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers'],
    ['nn.Linear(4, 1j)', 'SyntaxError at column 14: complex numbers are not accepted'],
    ['nn.Linear(4, 1x)', 'SyntaxError at column 15: invalid decimal literal'],
    ['nn.Linear(4, 0x1g)', 'SyntaxError at column 17: invalid digit'],
    ["nn.Linear(4, 'abc)", 'SyntaxError at column 14: unterminated string literal'],
    ["nn.Linear(4, '''a''')", 'SyntaxError at column 14: triple-quoted strings are not accepted; use a single-line string'],
    ["nn.Linear(4, f'a')", "SyntaxError at column 14: f'…' strings are not accepted; only plain, r and u strings are"],
    ["nn.Linear(4, 'a' 'b')", 'SyntaxError at column 18: adjacent string literals are not accepted; write one string'],
    ["X('\\x4')", 'SyntaxError at column 4: truncated \\x escape'],
    ["X('\\UFFFFFFFF')", 'SyntaxError at column 4: illegal Unicode character in \\U escape'],
    ["X(-'a')", "SyntaxError at column 3: bad operand type for unary -: 'str'"],
    ['X({1, 2})', 'SyntaxError at column 5: sets are not accepted; a dict needs key: value'],
    ['X({1: 2})', 'SyntaxError at column 4: dict keys must be strings (JSON object keys), got int'],
    ["X({'a' 1})", "SyntaxError at column 8: expected ':' after a dict key, got a number"],
    ["X({'class': 'Linear'})", "SyntaxError at column 3: a dict with a string 'class' entry would read as a module spec; not accepted"],
    ['X([1, 2)', "SyntaxError at column 8: expected ',' or ']', got ')'"],
    ['X((1 2))', "SyntaxError at column 6: expected ',' or ')', got a number"],
    ['X(nn.)', "SyntaxError at column 6: expected a name after '.', got ')'"],
    ['X(,)', "SyntaxError at column 3: expected an expression, got ','"],
    ['OrderedDict()', 'SyntaxError at column 1: a module spec is a call, e.g. nn.Linear(4, 8)'],
    ["X(OrderedDict([('a', 1, 2)]))", 'SyntaxError at column 3: OrderedDict takes a list of (name, value) pairs with string names'],
    ['X(OrderedDict(1))', 'SyntaxError at column 3: OrderedDict takes a list of (name, value) pairs or a dict'],
    ['X(OrderedDict([], []))', 'SyntaxError at column 3: OrderedDict expected at most 1 argument, got 2'],
    ['42', 'SyntaxError at column 1: a module spec is a call, e.g. nn.Linear(4, 8)'],
    ['', 'SyntaxError at column 1: expected an expression, got the end of the expression'],
    ['nn.Sequential(\n  nn.Linear(4, 8)\n  nn.ReLU())', "SyntaxError at line 3, column 3: expected ',' or ')' after an argument of nn.Sequential(…), got name 'nn'"]
  ]
  for (const [src, message] of cases) fails(t, src, code, message)
})

t.test('bounds: length, tokens and nesting, before the work', async (t) => {
  fails(t, `X(${'1'.repeat(LIMITS.maxPythonChars)})`, 'MATERIA_ERR_NN_SPEC_TOO_LARGE', `Python module spec has ${LIMITS.maxPythonChars + 3} characters (limit ${LIMITS.maxPythonChars})`)
  const many = `X(${'1,'.repeat(LIMITS.maxPythonTokens / 2)})`
  t.ok(many.length < LIMITS.maxPythonChars)
  fails(t, many, 'MATERIA_ERR_NN_SPEC_TOO_LARGE', `Python module spec has more than ${LIMITS.maxPythonTokens} tokens`)
  const depth = LIMITS.maxValueDepth
  t.same(parsePythonSpec(`X(${'['.repeat(depth - 1)}${']'.repeat(depth - 1)})`).args?.length, 1, 'nesting at the limit parses')
  fails(t, `X(${'['.repeat(depth)}${']'.repeat(depth)})`, 'MATERIA_ERR_NN_SPEC_TOO_LARGE', `Python module spec nests deeper than ${depth} levels (at column ${depth + 2})`)
  fails(t, `X(${'-'.repeat(depth)}1)`, 'MATERIA_ERR_NN_SPEC_TOO_LARGE', /nests deeper than 256 levels/)
})

t.test('jsonSpecOf: the python form with its ties, other keys refused, JSON specs untouched', async (t) => {
  t.same(jsonSpecOf({ python: 'nn.Linear(2, 2)', ties: [['a', 'b']] }), { class: 'nn.Linear', args: [2, 2], ties: [['a', 'b']] })
  const json = { class: 'Linear', args: [1, 1] }
  t.equal(jsonSpecOf(json), json)
  t.throws(() => jsonSpecOf({ python: 'nn.Linear(2, 2)', args: [1] }), { code: 'MATERIA_ERR_NN_ARGS', message: "Unknown key 'args' in a python module spec (expected python, ties)" })
})

t.test('pythonOf: the canonical form', async (t) => {
  t.equal(pythonOf({ class: 'Linear', args: [4, 8], kwargs: { bias: false } }), 'torch.nn.Linear(4, 8, bias=False)')
  t.equal(pythonOf({ class: 'nn.Linear', args: [4, 8, true, null, 'float16'] }), 'torch.nn.Linear(4, 8, True, None, torch.float16)', 'a positional dtype')
  t.equal(pythonOf({ class: 'torch.nn.LayerNorm', args: [[4, 5]], kwargs: { eps: 1e-5, dtype: 'torch.bfloat16' } }), 'torch.nn.LayerNorm([4, 5], eps=1e-05, dtype=torch.bfloat16)')
  t.equal(pythonOf({ class: 'torch.nn.EmbeddingBag', args: [10, 3], kwargs: { mode: "it's" } }), 'torch.nn.EmbeddingBag(10, 3, mode="it\'s")')
  t.equal(pythonOf({ class: 'Sequential', args: [{ a: { class: 'ReLU' } }] }), "torch.nn.Sequential(collections.OrderedDict([('a', torch.nn.ReLU())]))")
  t.equal(pythonOf({ class: 'ModuleDict', args: [{ a: { class: 'ReLU' } }] }), "torch.nn.ModuleDict({'a': torch.nn.ReLU()})")
  t.equal(pythonOf({ class: 'Sequential', args: [{ class: 'Linear', args: [1, 1], ties: [['weight', 'bias']] }] }), undefined, 'nested ties cannot be said')
  t.equal(pythonOf({ class: 'Identity', kwargs: { 'not-a-name': 1 } }), undefined, 'nor a keyword that is not an identifier')
  t.equal(pythonOf({ class: 'Identity', kwargs: { lambda: 1 } }), undefined, 'nor a Python keyword')
})
