// T5's init stds are factor * n ** -0.5 (modeling_t5.py _init_weights); Python evaluates n ** -0.5
// with glibc's pow. The expected values below were printed by CPython 3 on glibc (`repr(n ** -0.5)`)
// for sizes where Node 20's `**` returns a neighbouring double (Node 24's agrees), plus common model sizes.
import t from 'tap'
import { rsqrt } from '../../src/nn/transformers/init.js'

const python: Array<[number, number]> = [
  [2, 0.7071067811865476], [8, 0.3535533905932738], [31, 0.1796053020267749], [32, 0.1767766952966369],
  [107, 0.09667364890456635], [110, 0.09534625892455924], [115, 0.09325048082403138], [124, 0.08980265101338746],
  [128, 0.08838834764831845], [130, 0.08770580193070292], [134, 0.08638684255813601], [141, 0.08421519210665189],
  [32768, 0.005524271728019903], [768, 0.03608439182435161], [3072, 0.018042195912175804], [64, 0.125], [1024, 0.03125]
]

t.test('rsqrt(n) is Python\'s n ** -0.5 on every Node', async (t) => {
  for (const [n, want] of python) t.equal(rsqrt(n), want, `${n} ** -0.5`)
})
