// `npm run bench` finds its benches by the `// @bench` line alone (bench/README.md, "Adding a bench"):
// the line's arguments parse, and no file that reports figures is left out for want of it.
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { benchDirective } from '../bench/run.js'

t.test('the @bench line: a bench, with its quick and full arguments', async (t) => {
  t.same(benchDirective('// @bench quick: 1 ones-worker\n// text'), { full: [], quick: ['1', 'ones-worker'] })
  t.same(benchDirective('// @bench full: 60 32 quick: 3 4 1'), { full: ['60', '32'], quick: ['3', '4', '1'] })
  t.same(benchDirective('// @bench'), { full: [], quick: [] })
  t.equal(benchDirective('// a helper\nexport const x = 1'), undefined)
  t.equal(benchDirective('\n\n\n\n\n// @bench quick: 1'), undefined, 'only the first five lines count')
})

t.test('every bench/*.ts that reports figures is picked up by the runner', async (t) => {
  const dir = new URL('../bench/', import.meta.url)
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'))
  for (const f of files) {
    const text = readFileSync(new URL(f, dir), 'utf8')
    if (/from '\.\/report\.js'/.test(text) && /\breport\(/.test(text)) t.ok(benchDirective(text) !== undefined, `${f} has a // @bench line`)
  }
  t.ok(files.filter((f) => benchDirective(readFileSync(new URL(f, dir), 'utf8')) !== undefined).length >= 10, 'the benches are found')
})
