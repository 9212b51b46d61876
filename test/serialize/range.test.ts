import t from 'tap'
import { contentRange, parseRange, rangeLength, unsatisfiedContentRange } from '../../src/serialize/range.js'

const SIZE = 10_000

t.test('single ranges', async t => {
  t.same(parseRange('bytes=0-499', SIZE), { start: 0, end: 499 })
  t.same(parseRange('bytes=500-999', SIZE), { start: 500, end: 999 })
  t.same(parseRange('bytes=0-0', SIZE), { start: 0, end: 0 })
  t.same(parseRange('bytes=9999-9999', SIZE), { start: 9999, end: 9999 })
  t.same(parseRange('bytes=9500-', SIZE), { start: 9500, end: 9999 }, 'open-ended')
  t.same(parseRange('bytes=0-', SIZE), { start: 0, end: 9999 })
  t.same(parseRange('bytes=-500', SIZE), { start: 9500, end: 9999 }, 'suffix')
  t.same(parseRange('bytes=-10000', SIZE), { start: 0, end: 9999 })
  t.same(parseRange('bytes=-20000', SIZE), { start: 0, end: 9999 }, 'suffix longer than the file: whole file')
  t.same(parseRange('bytes=9000-20000', SIZE), { start: 9000, end: 9999 }, 'last-pos clamped')
  t.same(parseRange('bytes=0-99999999999999999999999', SIZE), { start: 0, end: 9999 }, 'huge last-pos')
  t.same(parseRange('Bytes=1-2', SIZE), { start: 1, end: 2 }, 'unit is case-insensitive')
  t.same(parseRange(' bytes = 1-2 ', SIZE), { start: 1, end: 2 }, 'whitespace tolerated')
  t.same(parseRange('bytes=1-2,', SIZE), { start: 1, end: 2 }, 'empty list element')
  t.same(parseRange(['bytes=1-2'], SIZE), { start: 1, end: 2 })
})

t.test('offsets beyond 4 GiB', async t => {
  const size = 12 * 2 ** 30
  t.same(parseRange('bytes=8589934592-8589934599', size), { start: 8589934592, end: 8589934599 })
  t.same(parseRange('bytes=-8', size), { start: size - 8, end: size - 1 })
  t.same(parseRange('bytes=12884901887-', size), { start: 12884901887, end: 12884901887 })
  t.equal(parseRange('bytes=12884901888-', size), 'unsatisfiable')
})

t.test('unsatisfiable', async t => {
  t.equal(parseRange('bytes=10000-', SIZE), 'unsatisfiable', 'first-pos = size')
  t.equal(parseRange('bytes=10000-10005', SIZE), 'unsatisfiable')
  t.equal(parseRange('bytes=99999999999999999999-', SIZE), 'unsatisfiable')
  t.equal(parseRange('bytes=-0', SIZE), 'unsatisfiable', 'zero-length suffix')
  t.equal(parseRange('bytes=5-1', SIZE), 'unsatisfiable', 'last-pos < first-pos')
  t.equal(parseRange('bytes=0-0', 0), 'unsatisfiable', 'empty file')
  t.equal(parseRange('bytes=0-', 0), 'unsatisfiable')
})

t.test('ignored (serve the whole file)', async t => {
  t.equal(parseRange(undefined, SIZE), 'none')
  t.equal(parseRange('', SIZE), 'none')
  t.equal(parseRange('bytes=0-1,5-6', SIZE), 'none', 'multi-range ignored')
  t.equal(parseRange('bytes=0-1, 20000-30000', SIZE), 'none', 'multi-range ignored even if partly unsatisfiable')
  t.equal(parseRange('items=0-5', SIZE), 'none', 'other unit')
  t.equal(parseRange('bytes 0-5', SIZE), 'none', 'no =')
  t.equal(parseRange('bytes=', SIZE), 'none')
  t.equal(parseRange('bytes=-', SIZE), 'none')
  t.equal(parseRange('bytes=a-b', SIZE), 'none')
  t.equal(parseRange('bytes=1.5-3', SIZE), 'none')
  t.equal(parseRange('bytes=-1-3', SIZE), 'none')
  t.equal(parseRange('bytes=+1-3', SIZE), 'none')
  t.equal(parseRange('bytes=0x10-', SIZE), 'none')
  t.equal(parseRange(['bytes=0-1', 'bytes=2-3'], SIZE), 'none', 'repeated header')
  t.equal(parseRange('bytes=-5', 0), 'none', 'non-zero suffix on an empty file: 200 with an empty body')
})

t.test('helpers', async t => {
  const r = parseRange('bytes=-500', SIZE)
  if (typeof r !== 'object') throw new Error('expected a range')
  t.equal(contentRange(r, SIZE), 'bytes 9500-9999/10000')
  t.equal(rangeLength(r), 500)
  t.equal(unsatisfiedContentRange(SIZE), 'bytes */10000')
})
