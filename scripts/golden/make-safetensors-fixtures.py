#!/usr/bin/env python3
"""Golden fixtures for materia's safetensors layer (src/serialize/).

Run with a Python that has safetensors 0.8.0, numpy and torch:

    python3 scripts/golden/make-safetensors-fixtures.py

Writes into test/fixtures/safetensors/:
  *.safetensors        files written by the reference writer (safetensors.torch / safetensors.numpy)
  manifest.json        the inputs of every file: names in insertion order, materia dtype, shape, the
                       exact little-endian data bytes as hex, the metadata argument, ties
  reader-cases.json    hand-crafted byte strings and whether the reference reader
                       (safetensors' Rust `deserialize`) accepts them, with its error message
  index-python.json    a model.safetensors.index.json formatted by Python exactly as transformers does
                       (json.dumps(index, indent=2, sort_keys=True) + "\n"), input in manifest.json

Everything is deterministic (fixed seeds, no timestamps), so re-running produces identical bytes, except
that safetensors orders `__metadata__` keys randomly per process: every fixture has at most one
metadata key for that reason.
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import safetensors
import safetensors.numpy as stnp
import safetensors.torch as stt
import torch
from safetensors._safetensors_rust import deserialize

OUT = Path(__file__).resolve().parents[2] / 'test' / 'fixtures' / 'safetensors'

TORCH_DTYPES = {
    'float32': torch.float32, 'float64': torch.float64, 'float16': torch.float16,
    'bfloat16': torch.bfloat16, 'int64': torch.int64, 'int32': torch.int32, 'int16': torch.int16,
    'int8': torch.int8, 'uint8': torch.uint8, 'bool': torch.bool,
}
NUMPY_DTYPES = {
    'float32': np.float32, 'float64': np.float64, 'float16': np.float16, 'int64': np.int64,
    'int32': np.int32, 'int16': np.int16, 'int8': np.int8, 'uint8': np.uint8, 'bool': np.bool_,
}


def torch_tensor(gen, dtype, shape):
    if dtype == 'bool':
        return torch.randint(0, 2, shape, generator=gen).to(torch.bool)
    if dtype in ('int64', 'int32', 'int16', 'int8'):
        return torch.randint(-100, 100, shape, generator=gen).to(TORCH_DTYPES[dtype])
    if dtype == 'uint8':
        return torch.randint(0, 256, shape, generator=gen).to(torch.uint8)
    return torch.randn(shape, generator=gen).to(TORCH_DTYPES[dtype])


def torch_hex(t):
    t = t.contiguous()
    if t.numel() == 0:
        return ''
    return t.reshape(-1).view(torch.uint8).numpy().tobytes().hex()


def numpy_array(rng, dtype, shape):
    if dtype == 'bool':
        return rng.integers(0, 2, shape).astype(np.bool_)
    if dtype in ('int64', 'int32', 'int16', 'int8'):
        return rng.integers(-100, 100, shape).astype(NUMPY_DTYPES[dtype])
    if dtype == 'uint8':
        return rng.integers(0, 256, shape).astype(np.uint8)
    return rng.standard_normal(shape).astype(NUMPY_DTYPES[dtype])


def numpy_hex(a):
    return np.ascontiguousarray(a).astype(a.dtype.newbyteorder('<')).tobytes().hex()


# Names chosen to break naive writers: integer-like keys (JS object key order), quotes, backslash,
# control characters (serde escapes), DEL / '/' / '<' / U+2028 (not escaped), non-ASCII, an astral
# character vs. a private-use BMP character (UTF-16 and UTF-8 orders differ), the empty name.
AWKWARD_NAMES = ['0', '10', '2', 'quote"name', 'back\\slash', 'ctrl\n\t\b\f\r\x01\x1f', 'del\x7f/</x\u2028',
                 'ünïcödé.权重', '\U0001F600', '\ue000', '']

MIXED_TORCH = [
    ('model.embed.weight', 'float32', [4, 3]),
    ('0', 'float32', [2]),
    ('10', 'float32', [2]),
    ('2', 'float64', []),
    ('bf', 'bfloat16', [3, 2]),
    ('bf.scalar', 'bfloat16', []),
    ('half', 'float16', [5]),
    ('i64', 'int64', [3]),
    ('i32', 'int32', [2, 2]),
    ('i16', 'int16', [3]),
    ('i8', 'int8', [7]),
    ('u8', 'uint8', [5]),
    ('mask', 'bool', [2, 3]),
    ('flag', 'bool', []),
    ('empty', 'float32', [0]),
    ('empty2d', 'int64', [3, 0]),
    ('empty.bool', 'bool', [0, 2]),
    ('quote"name', 'float32', [1]),
    ('back\\slash', 'float16', [2]),
    ('ctrl\n\t\b\f\r\x01\x1f', 'int8', [1]),
    ('del\x7f/</x\u2028', 'uint8', [3]),
    ('ünïcödé.权重', 'float16', [2]),
    ('\U0001F600', 'float32', [1]),
    ('\ue000', 'float32', [1]),
    ('', 'int32', [1]),
    ('a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.long.name.weight', 'float32', [3]),
]

NUMPY_NOMETA = [
    ('w', 'float32', [2, 2]),
    ('d', 'float64', [3]),
    ('h', 'float16', [1, 3]),
    ('n', 'int64', []),
    ('k', 'int16', [4]),
    ('b', 'uint8', [2]),
    ('m', 'bool', [5]),
    ('z', 'float32', [0, 4]),
    ('1', 'int32', [1]),
    ('11', 'int32', [1]),
]


def write(name, data):
    (OUT / name).write_bytes(data)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    files = []

    # 1. torch writer, every materia dtype incl. bfloat16, scalars, empty tensors, awkward names
    gen = torch.Generator().manual_seed(1234)
    sd = {}
    for name, dtype, shape in MIXED_TORCH:
        sd[name] = torch_tensor(gen, dtype, shape)
    data = stt.save(sd, metadata={'format': 'pt'})
    write('mixed-torch.safetensors', data)
    files.append({
        'file': 'mixed-torch.safetensors', 'writer': 'safetensors.torch.save', 'metadata': {'format': 'pt'},
        'tensors': [{'name': n, 'dtype': d, 'shape': s, 'hex': torch_hex(sd[n])} for n, d, s in MIXED_TORCH],
    })

    # 2. numpy writer without metadata (no __metadata__ key at all)
    rng = np.random.default_rng(42)
    nd = {}
    for name, dtype, shape in NUMPY_NOMETA:
        nd[name] = numpy_array(rng, dtype, shape)
    data = stnp.save(nd)
    write('numpy-nometa.safetensors', data)
    files.append({
        'file': 'numpy-nometa.safetensors', 'writer': 'safetensors.numpy.save', 'metadata': None,
        'tensors': [{'name': n, 'dtype': d, 'shape': s, 'hex': numpy_hex(nd[n])} for n, d, s in NUMPY_NOMETA],
    })

    # 3. no tensors
    write('empty-meta.safetensors', stt.save({}, metadata={'format': 'pt'}))
    files.append({'file': 'empty-meta.safetensors', 'writer': 'safetensors.torch.save',
                  'metadata': {'format': 'pt'}, 'tensors': []})
    write('empty-nometa.safetensors', stnp.save({}))
    files.append({'file': 'empty-nometa.safetensors', 'writer': 'safetensors.numpy.save',
                  'metadata': None, 'tensors': []})

    # 4. metadata edge cases (one key at most: the reference writer's key order is random)
    meta = {'na"me\n\U0001F600': 'va\\lue\x01\u2028é'}
    t = {'x': np.arange(3, dtype=np.float32)}
    write('meta-escape.safetensors', stnp.save(t, metadata=meta))
    files.append({'file': 'meta-escape.safetensors', 'writer': 'safetensors.numpy.save', 'metadata': meta,
                  'tensors': [{'name': 'x', 'dtype': 'float32', 'shape': [3], 'hex': numpy_hex(t['x'])}]})
    write('meta-empty.safetensors', stnp.save(t, metadata={}))
    files.append({'file': 'meta-empty.safetensors', 'writer': 'safetensors.numpy.save', 'metadata': {},
                  'tensors': [{'name': 'x', 'dtype': 'float32', 'shape': [3], 'hex': numpy_hex(t['x'])}]})

    # 5. header whose JSON length is already a multiple of 8 (no padding) and one needing 7 spaces
    for label, name in (('pad0', 'abcd'), ('pad7', 'abcdefg')):
        arr = {name: np.ones(1, dtype=np.uint8)}
        raw = stnp.save(arr)
        write(f'{label}.safetensors', raw)
        files.append({'file': f'{label}.safetensors', 'writer': 'safetensors.numpy.save', 'metadata': None,
                      'tensors': [{'name': name, 'dtype': 'uint8', 'shape': [1], 'hex': '01'}]})

    # 6. tied weights through safetensors.torch.save_model: the alias is dropped and recorded in
    #    __metadata__ as {alias: kept} (and no "format" key when metadata=None)
    class Tied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(2, 3, bias=False)
            self.b = torch.nn.Linear(2, 3, bias=False)
            self.b.weight = self.a.weight
            self.c = torch.nn.Linear(3, 1, bias=True)

    torch.manual_seed(7)
    model = Tied()
    path = OUT / 'tied-save-model.safetensors'
    stt.save_model(model, str(path))
    path.chmod(0o644)  # the Rust writer creates 0600 files
    msd = model.state_dict()
    tensors = []
    for n, v in msd.items():
        entry = {'name': n, 'dtype': 'float32', 'shape': list(v.shape), 'hex': torch_hex(v)}
        if n == 'b.weight':
            entry['tiedTo'] = 'a.weight'
        tensors.append(entry)
    files.append({'file': 'tied-save-model.safetensors', 'writer': 'safetensors.torch.save_model',
                  'metadata': None, 'tiedAliasesInMetadata': True, 'tensors': tensors})

    # sanity: everything reads back with the reference reader
    for f in files:
        with safetensors.safe_open(str(OUT / f['file']), 'pt') as fh:
            assert set(fh.keys()) == {x['name'] for x in f['tensors'] if 'tiedTo' not in x}, f['file']

    # 7. index JSON as transformers writes it
    index = {
        'metadata': {'total_parameters': 5_000_000_123, 'total_size': 10_000_000_246},
        'weight_map': {
            'lm_head.weight': 'model-00002-of-00002.safetensors',
            'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
            '10': 'model-00001-of-00002.safetensors',
            '2': 'model-00001-of-00002.safetensors',
            'quote"back\\slash\n\x7f/': 'model-00002-of-00002.safetensors',
            'ünïcödé.权重': 'model-00002-of-00002.safetensors',
            '\U0001F600': 'model-00002-of-00002.safetensors',
            '\ue000': 'model-00002-of-00002.safetensors',
            '': 'model-00001-of-00002.safetensors',
        },
    }
    (OUT / 'index-python.json').write_text(json.dumps(index, indent=2, sort_keys=True) + '\n', encoding='utf-8')
    empty_index = {'metadata': {'total_size': 0}, 'weight_map': {}}
    (OUT / 'index-python-empty.json').write_text(json.dumps(empty_index, indent=2, sort_keys=True) + '\n',
                                                 encoding='utf-8')

    manifest = {
        'generator': {'python': sys.version.split()[0], 'safetensors': safetensors.__version__,
                      'torch': torch.__version__, 'numpy': np.__version__},
        'files': files,
        'index': {'file': 'index-python.json', 'input': index},
        'emptyIndex': {'file': 'index-python-empty.json', 'input': empty_index},
    }
    (OUT / 'manifest.json').write_text(json.dumps(manifest, indent=1, ensure_ascii=True) + '\n')

    (OUT / 'reader-cases.json').write_text(json.dumps(reader_cases(), indent=1, ensure_ascii=True) + '\n')
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f'wrote {len(list(OUT.iterdir()))} files, {total} bytes, into {OUT}')


def framed(header, data=b'', n=None):
    """u64 LE length + header bytes + data; n overrides the length field."""
    if isinstance(header, str):
        header = header.encode('utf-8')
    return struct.pack('<Q', len(header) if n is None else n) + header + data


def pad8(s):
    b = s.encode('utf-8')
    return b + b' ' * (-len(b) % 8)


def reader_cases():
    F = '{"dtype":"F32","shape":[%s],"data_offsets":[%d,%d]}'
    a = '"a":' + F % ('2', 0, 8)
    b = '"b":' + F % ('1', 8, 12)
    d12 = bytes(range(12))
    cases = [
        ('valid', framed(pad8('{' + a + ',' + b + '}'), d12)),
        ('valid with metadata', framed(pad8('{"__metadata__":{"format":"pt"},' + a + '}'), d12[:8])),
        ('valid empty', framed(pad8('{}'))),
        ('valid metadata null', framed(pad8('{"__metadata__":null}'))),
        ('valid unpadded', framed('{' + a + '}', d12[:8])),
        ('valid pretty-printed', framed('{\n  "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}\n}', d12[:8])),
        ('valid newline padding', framed('{' + a + '}\n\n\n\n\n\n\n', d12[:8])),
        ('valid leading space', framed(' {' + a + '}', d12[:8])),
        ('valid extra entry field', framed(pad8('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":[1,{"y":null}]}}'), d12[:8])),
        ('valid entries in reverse order', framed(pad8('{' + b + ',' + a + '}'), d12)),
        ('valid scalar', framed(pad8('{"s":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}'), d12[:8])),
        ('valid empty tensors first, middle and last', framed(pad8(
            '{"e0":' + F % ('0', 0, 0) + ',"a":' + F % ('1', 0, 4) + ',"e1":' + F % ('0,3', 4, 4)
            + ',"b":' + F % ('1', 4, 8) + ',"e2":' + F % ('5,0', 8, 8) + '}'), d12[:8])),
        ('valid bool bytes other than 0/1', framed(pad8('{"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}'), b'\x07\xff')),
        ('valid escaped name', framed(pad8('{"q\\"\\u00e9\\ud83d\\ude00\\n":' + F % ('1', 0, 4) + '}'), d12[:4])),
        ('valid non-materia dtype F8_E4M3', framed(pad8('{"f8":{"dtype":"F8_E4M3","shape":[3],"data_offsets":[0,3]}}'), d12[:3])),
        ('valid sub-byte dtype F4', framed(pad8('{"f4":{"dtype":"F4","shape":[4],"data_offsets":[0,2]}}'), d12[:2])),
        ('too short for the length field', b'\x08\x00\x00'),
        ('header length too large', framed('{}', n=100_000_001)),
        ('header length beyond body', framed(pad8('{}'), n=64)),
        ('header length zero', framed('')),
        ('invalid UTF-8', framed(b'{"\xff\xfe":' + F.encode() % (b'1', 0, 4) + b'}', d12[:4])),
        ('byte order mark', framed('\ufeff{}')),
        ('invalid JSON', framed(pad8('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}'), d12[:8])),
        ('trailing garbage after JSON', framed('{}x')),
        ('NUL padding', framed(b'{}' + b'\x00' * 6)),
        ('top level array', framed(pad8('[]'))),
        ('top level string', framed(pad8('"abc"'))),
        ('top level null', framed(pad8('null'))),
        ('entry not an object', framed(pad8('{"a":5}'))),
        ('entry missing dtype', framed(pad8('{"a":{"shape":[2],"data_offsets":[0,8]}}'), d12[:8])),
        ('entry missing shape', framed(pad8('{"a":{"dtype":"F32","data_offsets":[0,8]}}'), d12[:8])),
        ('entry missing data_offsets', framed(pad8('{"a":{"dtype":"F32","shape":[2]}}'), d12[:8])),
        ('entry duplicate field', framed(pad8('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"dtype":"F32"}}'), d12[:8])),
        ('dtype not a string', framed(pad8('{"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}'), d12[:8])),
        ('dtype lowercase', framed(pad8('{"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}}'), d12[:8])),
        ('dtype unknown', framed(pad8('{"a":{"dtype":"F128","shape":[2],"data_offsets":[0,8]}}'), d12[:8])),
        ('dtype materia name', framed(pad8('{"a":{"dtype":"float32","shape":[2],"data_offsets":[0,8]}}'), d12[:8])),
        ('shape not an array', framed(pad8('{"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}'), d12[:8])),
        ('shape negative', framed(pad8('{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}'), d12[:8])),
        ('shape fractional', framed(pad8('{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}'), d12[:8])),
        ('shape exponent', framed(pad8('{"a":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}'), d12[:8])),
        ('shape string', framed(pad8('{"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}'), d12[:8])),
        ('shape minus zero', framed(pad8('{"a":{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}}'))),
        ('data_offsets one number', framed(pad8('{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}'), d12[:8])),
        ('data_offsets three numbers', framed(pad8('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}'), d12[:8])),
        ('data_offsets end before begin', framed(pad8('{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}'), d12[:8])),
        ('size does not match shape', framed(pad8('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}'), d12[:8])),
        ('sub-byte dtype misaligned', framed(pad8('{"f4":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}'), d12[:2])),
        ('first tensor not at 0', framed(pad8('{"a":' + F % ('2', 4, 12) + '}'), d12)),
        ('gap between tensors', framed(pad8('{"a":' + F % ('1', 0, 4) + ',"b":' + F % ('1', 8, 12) + '}'), d12)),
        ('overlap', framed(pad8('{"a":' + F % ('2', 0, 8) + ',"b":' + F % ('2', 4, 12) + '}'), d12)),
        ('same range twice', framed(pad8('{"a":' + F % ('2', 0, 8) + ',"b":' + F % ('2', 0, 8) + '}'), d12[:8])),
        ('empty tensor inside another', framed(pad8('{"a":' + F % ('2', 0, 8) + ',"e":' + F % ('0', 4, 4) + '}'), d12[:8])),
        ('empty tensor past the end', framed(pad8('{"a":' + F % ('2', 0, 8) + ',"e":' + F % ('0', 12, 12) + '}'), d12[:8])),
        ('trailing bytes', framed(pad8('{' + a + '}'), d12)),
        ('truncated data', framed(pad8('{' + a + ',' + b + '}'), d12[:10])),
        ('metadata number value', framed(pad8('{"__metadata__":{"format":"pt","n":1}}'))),
        ('metadata nested object', framed(pad8('{"__metadata__":{"format":{"x":"pt"}}}'))),
        ('metadata not an object', framed(pad8('{"__metadata__":"pt"}'))),
        ('metadata shaped like a tensor', framed(pad8('{"__metadata__":' + F % ('1', 0, 4) + '}'), d12[:4])),
        ('lone surrogate escape in name', framed(pad8('{"\\ud800":' + F % ('1', 0, 4) + '}'), d12[:4])),
        ('raw control character in name', framed(pad8('{"a\nb":' + F % ('1', 0, 4) + '}'), d12[:4])),
        ('duplicate tensor name', framed(pad8('{"a":' + F % ('1', 0, 4) + ',"a":' + F % ('1', 0, 4) + '}'), d12[:4])),
        ('offset beyond 2^53', framed(pad8('{"a":{"dtype":"U8","shape":[1],"data_offsets":[9007199254740993,9007199254740994]}}'), b'\x00')),
    ]
    out = []
    for desc, data in cases:
        try:
            deserialize(bytes(data))
            verdict = {'ok': True}
        except Exception as e:  # SafetensorError
            verdict = {'ok': False, 'error': str(e)}
        out.append({'description': desc, 'hex': bytes(data).hex(), 'python': verdict})
    return out


if __name__ == '__main__':
    main()
