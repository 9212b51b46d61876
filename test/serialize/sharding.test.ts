import t from 'tap'
import type { LayoutInput } from '../../src/serialize/safetensors-layout.js'
import { parseSafetensors } from '../../src/serialize/safetensors-reader.js'
import {
  DEFAULT_MAX_SHARD_SIZE, INDEX_FILE_NAME, SINGLE_FILE_NAME, formatIndexJson, planShards, pythonJsonString,
  shardFileName, type ShardPlan
} from '../../src/serialize/sharding.js'
import { fixture, manifest } from './fixtures.js'

/** uint8 tensors named t0, t1, … with the given byte sizes. */
function sized (sizes: number[]): LayoutInput[] {
  return sizes.map((n, i) => ({ name: `t${i}`, dtype: 'uint8', shape: [n], nbytes: n }))
}

function groups (plan: ShardPlan): string[][] {
  return plan.shards.map(s => [...s.names])
}

t.test('file names', async t => {
  t.equal(shardFileName(0, 3), 'model-00001-of-00003.safetensors')
  t.equal(shardFileName(2, 3), 'model-00003-of-00003.safetensors')
  t.equal(shardFileName(99999, 123456), 'model-100000-of-123456.safetensors', 'wider than 5 digits like Python {:05d}')
  t.equal(SINGLE_FILE_NAME, 'model.safetensors')
  t.equal(INDEX_FILE_NAME, 'model.safetensors.index.json')
  t.equal(DEFAULT_MAX_SHARD_SIZE, 5_000_000_000)
})

t.test('greedy, state-dict order, no bin packing (huggingface_hub docstring example)', async t => {
  // [6GB, 6GB, 2GB, 6GB, 2GB, 2GB] with a 10GB limit -> [6], [6+2], [6+2+2]
  const plan = planShards(sized([6, 6, 2, 6, 2, 2]), { maxShardSize: 10 })
  t.same(groups(plan), [['t0'], ['t1', 't2'], ['t3', 't4', 't5']])
  t.same(plan.shards.map(s => s.file), [
    'model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors'
  ])
  t.same(plan.shards.map(s => s.size), [6, 8, 10])
  t.equal(plan.totalSize, 24)
  t.equal(plan.sharded, true)
  t.equal(plan.fileOf.get('t4'), 'model-00003-of-00003.safetensors')
})

t.test('a tensor larger than the limit gets its own shard, appended before the open shard', async t => {
  t.same(groups(planShards(sized([2, 12, 3]), { maxShardSize: 10 })), [['t1'], ['t0', 't2']])
  t.same(groups(planShards(sized([8, 12, 5]), { maxShardSize: 10 })), [['t1'], ['t0'], ['t2']])
  t.same(groups(planShards(sized([12, 13]), { maxShardSize: 10 })), [['t0'], ['t1']])
  // exactly at the limit stays together
  t.same(groups(planShards(sized([5, 5, 1]), { maxShardSize: 10 })), [['t0', 't1'], ['t2']])
  // empty tensors never open a new shard
  t.same(groups(planShards(sized([10, 0, 0]), { maxShardSize: 10 })), [['t0', 't1', 't2']])
  t.same(groups(planShards(sized([3, 0, 4]), { maxShardSize: 0 })), [['t0'], ['t2'], ['t1']])
})

t.test('default limit 5 GB (decimal) with sizes beyond 4 GiB', async t => {
  const plan = planShards(sized([2e9, 2e9, 2e9, 6e9]))
  // t2 closes [t0, t1]; the oversized t3 is appended while [t2] is still open
  t.same(groups(plan), [['t0', 't1'], ['t3'], ['t2']])
  t.equal(plan.totalSize, 12e9)
  t.equal(plan.index.metadata.total_size, 12e9)
  const big = plan.shards[1]!.layout
  t.equal(big.dataSize, 6e9)
  t.equal(big.totalSize, big.dataOffset + 6e9)
})

t.test('single shard: model.safetensors, index still produced', async t => {
  const entries: LayoutInput[] = [
    { name: 'weight', dtype: 'float32', shape: [2, 3], nbytes: 24 },
    { name: 'bias', dtype: 'float32', shape: [2], nbytes: 8 }
  ]
  const plan = planShards(entries)
  t.equal(plan.sharded, false)
  t.same(plan.shards.map(s => s.file), ['model.safetensors'])
  t.same(plan.shards[0]!.names, ['weight', 'bias'])
  t.same(plan.index, { metadata: { total_size: 32 }, weight_map: { bias: 'model.safetensors', weight: 'model.safetensors' } })
  t.equal(plan.indexJson,
    '{\n  "metadata": {\n    "total_size": 32\n  },\n  "weight_map": {\n' +
    '    "bias": "model.safetensors",\n    "weight": "model.safetensors"\n  }\n}\n')
  t.same(plan.shards[0]!.layout.tensors.map(x => x.name), ['bias', 'weight'])
})

t.test('no tensors: one empty model.safetensors, empty weight map', async t => {
  const plan = planShards([])
  t.same(plan.shards.map(s => [s.file, s.names.length, s.size]), [['model.safetensors', 0, 0]])
  t.equal(plan.shards[0]!.layout.totalSize, 40)
  t.equal(plan.indexJson, fixture('index-python-empty.json').toString('utf8'), 'matches Python json.dumps')
})

t.test('every shard is a complete safetensors file with its own metadata', async t => {
  const entries: LayoutInput[] = [
    { name: 'embed', dtype: 'bfloat16', shape: [8, 4], nbytes: 64 },
    { name: '0', dtype: 'float32', shape: [4], nbytes: 16 },
    { name: '10', dtype: 'int64', shape: [2], nbytes: 16 },
    { name: 'mask', dtype: 'bool', shape: [40], nbytes: 40 },
    { name: '2', dtype: 'float16', shape: [20], nbytes: 40 }
  ]
  const plan = planShards(entries, { maxShardSize: 64 })
  t.same(groups(plan), [['embed'], ['0', '10'], ['mask'], ['2']])
  for (const s of plan.shards) {
    const file = Buffer.concat([s.layout.header, Buffer.alloc(s.layout.dataSize)])
    const parsed = parseSafetensors(file)
    t.same(parsed.metadata, { format: 'pt' }, `${s.file}: format pt`)
    t.same(parsed.tensors.map(x => x.name).sort(), [...s.names].sort(), `${s.file}: holds its tensors`)
    t.equal(s.layout.dataSize, s.size)
  }
  t.same(Object.keys(plan.index.weight_map).sort(), ['0', '10', '2', 'embed', 'mask'])
})

t.test('tied tensors: aliases left out of shards and weight map, storage counted once', async t => {
  const entries: LayoutInput[] = [
    { name: 'embed.weight', dtype: 'float32', shape: [4, 2], nbytes: 32 },
    { name: 'block.weight', dtype: 'float32', shape: [4, 2], nbytes: 32 },
    { name: 'lm_head.weight', dtype: 'float32', shape: [4, 2], nbytes: 32, tiedTo: 'embed.weight' },
    { name: 'norm', dtype: 'float32', shape: [2], nbytes: 8 }
  ]
  const plan = planShards(entries, { maxShardSize: 40 })
  t.same(groups(plan), [['embed.weight'], ['block.weight', 'norm']])
  t.equal(plan.totalSize, 72)
  t.same(plan.omitted, [{ name: 'lm_head.weight', keptAs: 'embed.weight' }])
  t.notOk('lm_head.weight' in plan.index.weight_map)
  for (const s of plan.shards) t.same(s.layout.metadata, { format: 'pt' })

  const rec = planShards(entries, { maxShardSize: 40, tiedAliasesInMetadata: true })
  t.same(rec.shards[0]!.layout.metadata, { format: 'pt', 'lm_head.weight': 'embed.weight' }, 'alias recorded in the shard of its storage')
  t.same(rec.shards[1]!.layout.metadata, { format: 'pt' })
  t.same(rec.shards[0]!.layout.omitted, [{ name: 'lm_head.weight', keptAs: 'embed.weight' }])

  // the kept tensor may itself carry tiedTo (first name wins)
  const first = planShards([
    { name: 'a', dtype: 'int8', shape: [4], nbytes: 4, tiedTo: 'b' },
    { name: 'x', dtype: 'int8', shape: [4], nbytes: 4 },
    { name: 'b', dtype: 'int8', shape: [4], nbytes: 4 }
  ], { maxShardSize: 4 })
  t.same(groups(first), [['a'], ['x']])
  t.same(first.omitted, [{ name: 'b', keptAs: 'a' }])
})

t.test('index JSON formatting is byte-identical to Python json.dumps(indent=2, sort_keys=True) + "\\n"', async t => {
  const m = manifest()
  t.equal(formatIndexJson(m.index.input), fixture(m.index.file).toString('utf8'))
  t.equal(formatIndexJson(m.emptyIndex.input), fixture(m.emptyIndex.file).toString('utf8'))
  t.equal(pythonJsonString('a"\\\n\r\t\b\f\u0001\u007f~ é\u{1F600}'), '"a\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u007f~ \\u00e9\\ud83d\\ude00"')

  const plan = planShards(sized([4, 4]), { maxShardSize: 4, totalParameters: 8 })
  t.equal(plan.indexJson,
    '{\n  "metadata": {\n    "total_parameters": 8,\n    "total_size": 8\n  },\n  "weight_map": {\n' +
    '    "t0": "model-00001-of-00002.safetensors",\n    "t1": "model-00002-of-00002.safetensors"\n  }\n}\n')
})

t.test('bad options', async t => {
  for (const bad of [-1, 1.5, Number.NaN, Infinity]) {
    t.throws(() => planShards(sized([1]), { maxShardSize: bad }), { code: 'MATERIA_ERR_BAD_REQUEST', message: /max_shard_size/ }, `maxShardSize ${bad}`)
  }
  t.throws(() => planShards(sized([1]), { totalParameters: -3 }), { code: 'MATERIA_ERR_BAD_REQUEST', message: /total_parameters/ })
  t.throws(() => planShards([...sized([1]), ...sized([1])]), { code: 'MATERIA_ERR_CHECKPOINT_UNSERIALIZABLE', message: /duplicate tensor name "t0"/ })
})
