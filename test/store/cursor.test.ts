// pageInOrder resumes after the cursor's item, or after where it stood when it was deleted: the
// key is a creation sequence, so items made in the same millisecond are neither skipped nor repeated.
import t from 'tap'
import { pageInOrder } from '../../src/store/cursor.js'

t.test('a deleted cursor item: the walk goes on at the next item, even with equal timestamps', async (t) => {
  const items = Array.from({ length: 8 }, (_, i) => ({ id: `m${i}`, seq: i + 1, createdAt: 1000 }))
  const first = pageInOrder(items, { limit: 3 }, (m) => m)
  t.same(first.items.map((m) => m.id), ['m0', 'm1', 'm2'])
  const rest = items.filter((m) => m.id !== 'm2')
  const next = pageInOrder(rest, { limit: 3, cursor: first.nextCursor ?? undefined }, (m) => m)
  t.same(next.items.map((m) => m.id), ['m3', 'm4', 'm5'])
  const gone = pageInOrder(items.slice(0, 2), { limit: 3, cursor: first.nextCursor ?? undefined }, (m) => m)
  t.same(gone.items, [], 'nothing after it: an empty last page')
  t.equal(gone.nextCursor, null)
})
