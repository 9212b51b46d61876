#!/usr/bin/env python3
"""Reference implementation of rng: "philox" (docs/philox.md) in numpy, and its test vectors.

Usage (from the repo root):
    python3 scripts/golden/make-philox-vectors.py [--out DIR] [--accuracy N]

Writes test/fixtures/philox/vectors.json (the tests never run Python). Independent of the
TypeScript code: Philox4x32-10 is written here from the paper with numpy uint64 arithmetic and
checked against Random123's known-answer vectors first. numpy.random.Philox is Philox4x64, a
different generator, and is not used.

--accuracy N additionally measures the Box-Muller approximation against mpmath (120-bit) on N
random pairs plus edge cases per precision, and prints the numbers quoted in docs/philox.md §6.
"""
import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np

U32 = np.uint64(0xFFFFFFFF)


# ---- the spec (docs/philox.md), self-contained from here to "end of spec" ----

def philox4x32_10(c, k):
    """c: four uint64 arrays holding u32 counter words; k: two ints. Returns four uint64 arrays."""
    c0, c1, c2, c3 = (np.asarray(x, dtype=np.uint64) for x in c)
    k0, k1 = np.uint64(k[0]), np.uint64(k[1])
    for _ in range(10):
        p0 = c0 * np.uint64(0xD2511F53)  # < 2^64: exact in uint64
        p1 = c2 * np.uint64(0xCD9E8D57)
        c0, c1, c2, c3 = (p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & U32, (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & U32
        k0, k1 = (k0 + np.uint64(0x9E3779B9)) & U32, (k1 + np.uint64(0xBB67AE85)) & U32
    return c0, c1, c2, c3


def philox_key(seed, name):
    d = hashlib.sha256(b"materia-philox-v1\0" + (seed % 2 ** 64).to_bytes(8, "little") + name.encode("utf-8")).digest()
    return int.from_bytes(d[0:4], "little"), int.from_bytes(d[4:8], "little")


def block_words(key, purpose, blocks):
    blocks = np.asarray(blocks, dtype=np.uint64)
    zero = np.zeros_like(blocks)
    return philox4x32_10((blocks & U32, blocks >> np.uint64(32), zero + np.uint64(purpose), zero), key)


LN2 = float.fromhex("0x1.62e42fefa39efp-1")
TWO_PI = float.fromhex("0x1.921fb54442d18p+2")
SQRT1_2 = float.fromhex("0x1.6a09e667f3bcdp-1")
LOG_C = [2.0 / (2 * j + 3) for j in range(9)]                                  # ln: 2/3 .. 2/19
SIN_C = [(-1) ** (j + 1) / float(math.factorial(2 * j + 3)) for j in range(9)]  # -1/3! .. -1/19!
COS_C = [(-1) ** (j + 1) / float(math.factorial(2 * j + 2)) for j in range(9)]  # -1/2! .. -1/18!


def horner(coeffs, x):
    p = np.full_like(x, coeffs[-1])
    for c in coeffs[-2::-1]:
        p = p * x + c
    return p


def box_muller(ku, ka, B, J):
    """ku, ka: uint64 arrays of B-bit integers; J series terms. Returns (z_cos, z_sin) float64 arrays."""
    m, e = np.frexp(ku.astype(np.float64) + 1.0)          # n = ku + 1 = m 2^e, exact
    low = m < SQRT1_2
    m, e = np.where(low, m * 2.0, m), np.where(low, e - 1, e).astype(np.float64)
    t = (m - 1.0) / (m + 1.0)
    t2 = t * t
    r = np.sqrt(-2.0 * ((e - B) * LN2 + (2.0 * t + (t * t2) * horner(LOG_C[:J], t2))))
    h = (ka + np.uint64(1 << (B - 3))) & np.uint64((1 << B) - 1)
    q = (h >> np.uint64(B - 2)).astype(np.int64)
    f = (h & np.uint64((1 << (B - 2)) - 1)).astype(np.int64) - (1 << (B - 3))
    a = f.astype(np.float64) * 2.0 ** -B * TWO_PI
    a2 = a * a
    sn = a + (a * a2) * horner(SIN_C[:J], a2)
    cs = 1.0 + a2 * horner(COS_C[:J], a2)
    cos = np.select([q == 0, q == 1, q == 2], [cs, -sn, -cs], sn)
    sin = np.select([q == 0, q == 1, q == 2], [sn, cs, -sn], -cs)
    return r * cos, r * sin


def round_bf16(x32):
    u = x32.view(np.uint32).astype(np.uint64)
    return ((u + np.uint64(0x7FFF) + ((u >> np.uint64(16)) & np.uint64(1))) >> np.uint64(16)).astype(np.uint16)


def philox_values(seed, name, dtype, dist, first, n):
    """Elements [first, first + n) as little-endian bytes. dist: ("uniform", low, high) | ("normal", mean, std)."""
    key = philox_key(seed, name)
    i = np.arange(first, first + n, dtype=np.uint64)
    kind, p0, p1 = dist
    if kind == "uniform" and dtype == "float64":
        w = block_words(key, 1, i // np.uint64(2))
        s = (i % np.uint64(2)).astype(bool)
        k = (np.where(s, w[2], w[0]) >> np.uint64(11)) * np.uint64(2 ** 32) + np.where(s, w[3], w[1])
        x = k.astype(np.float64) * 2.0 ** -53 * (p1 - p0) + p0
    elif kind == "uniform":
        w = block_words(key, 1, i // np.uint64(5))
        bits = w[0] | (w[1] << np.uint64(32))                     # low 64 bits of the block
        bits_hi = w[2] | (w[3] << np.uint64(32))
        s = (i % np.uint64(5)).astype(np.int64)
        k = np.select([s == 0, s == 1, s == 2, s == 3],
                      [bits, bits >> np.uint64(24), (bits >> np.uint64(48)) | (bits_hi << np.uint64(16)), bits_hi >> np.uint64(8)],
                      w[3]) & np.uint64(0xFFFFFF)
        lo = np.float32(p0)
        rng = np.float32(np.float32(p1) - lo)
        x = (k.astype(np.float32) * np.float32(2.0 ** -24)) * rng + lo  # float32 ops, each rounded
    elif dtype == "float64":
        w = block_words(key, 2, i // np.uint64(2))
        zc, zs = box_muller((w[0] >> np.uint64(11)) * np.uint64(2 ** 32) + w[1], (w[2] >> np.uint64(11)) * np.uint64(2 ** 32) + w[3], 53, 9)
        x = np.where(i % np.uint64(2) == 0, zc, zs) * p1 + p0
    else:
        w = block_words(key, 2, i // np.uint64(4))
        s = (i % np.uint64(4)).astype(np.int64)
        pair2 = s >= 2
        zc, zs = box_muller(np.where(pair2, w[2], w[0]), np.where(pair2, w[3], w[1]), 32, 6)
        x = np.where(s % 2 == 0, zc, zs) * p1 + p0
    if dtype == "float64":
        return x.astype("<f8").tobytes()
    x32 = x.astype(np.float32)
    if dtype == "float32":
        return x32.astype("<f4").tobytes()
    if dtype == "float16":
        return x32.astype("<f2").tobytes()
    return round_bf16(x32).astype("<u2").tobytes()

# ---- end of spec ----


KAT = [  # Random123 kat_vectors, philox4x32 10 rounds: counter, key, expected output
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0], [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
]


def check_kat():
    for c, k, want in KAT:
        got = [int(np.asarray(x).ravel()[0]) for x in philox4x32_10([np.array([v], dtype=np.uint64) for v in c], k)]
        assert got == want, (c, k, [hex(x) for x in got])


SEEDS = [0, 1, 12345, 2 ** 40 + 7]
NAMES = ["weight", "layers.0.self_attn.q_proj.weight", "блок.вес", "权重.偏置", "emb😀.weight", "", "a\0b"]
DTYPES = ["float32", "float64", "float16", "bfloat16"]
DISTS = [("uniform", 0.0, 1.0), ("uniform", -0.125, 0.125), ("uniform", -0.22360679774997894, 0.22360679774997894),
         ("normal", 0.0, 1.0), ("normal", 0.0, 0.02), ("normal", -1.5, 3.3)]
FIRSTS = [0, 1, 3, 5, 7, 4097, 2 ** 32 + 1, 5 * 2 ** 32 - 2, 2 ** 40 + 3, 2 ** 53 - 40]
HEX_LIMIT = 64  # byte strings longer than this many elements are stored as sha256


def entry(seed, name, dtype, dist, first, n):
    b = philox_values(seed, name, dtype, dist, first, n)
    e = {"seed": seed, "name": name, "dtype": dtype, "dist": {"kind": dist[0]}, "first": first, "n": n}
    if dist[0] == "uniform":
        e["dist"].update(low=dist[1], high=dist[2])
    else:
        e["dist"].update(mean=dist[1], std=dist[2])
    if n <= HEX_LIMIT:
        e["hex"] = b.hex()
    else:
        e["sha256"] = hashlib.sha256(b).hexdigest()
    return e


def build():
    out = {"kat": [{"counter": c, "key": k, "out": w} for c, k, w in KAT], "keys": [], "blocks": [], "fills": []}
    for seed in SEEDS + [-1, -(2 ** 63), 2 ** 53 + 2, 2 ** 63, 2 ** 64 - 2 ** 11]:  # all exact as JS numbers
        for name in NAMES:
            k = philox_key(seed, name)
            out["keys"].append({"seed": seed, "name": name, "key": list(k)})
    key = philox_key(12345, "weight")
    blocks = [0, 1, 2, 3, 4, 5, 511, 512, 513, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 45 + 17]
    for purpose in (1, 2):
        w = block_words(key, purpose, blocks)
        for j, b in enumerate(blocks):
            out["blocks"].append({"seed": 12345, "name": "weight", "purpose": purpose, "block": b, "words": [int(x[j]) for x in w]})
    rng = np.random.default_rng(20240607)
    for seed in SEEDS:
        for name in NAMES:
            for dtype in DTYPES:
                for dist in DISTS:
                    first = FIRSTS[int(rng.integers(len(FIRSTS)))]
                    n = int(rng.integers(1, 24))
                    out["fills"].append(entry(seed, name, dtype, dist, first, n))
    # Systematic offsets: every first in FIRSTS with every (dtype, kind), 37 elements.
    for first in FIRSTS:
        for dtype in DTYPES:
            for dist in (DISTS[1], DISTS[4]):
                out["fills"].append(entry(2 ** 40 + 7, "layers.0.self_attn.q_proj.weight", dtype, dist, first, 37))
    # Long fills (sha256 only): crosses chunk boundaries of the TypeScript implementation.
    for dtype in DTYPES:
        for dist in (DISTS[0], DISTS[3]):
            per = 2 if dtype == "float64" else 5 if dist[0] == "uniform" else 4
            for first, n in ((0, 100003), (3, 70001), (per * 2 ** 32 - 20011, 50000)):
                out["fills"].append(entry(1, "big.weight", dtype, dist, first, n))
    return out


def accuracy(n):
    import mpmath as mp
    mp.mp.prec = 120
    rng = np.random.default_rng(7)
    for B in (32, 53):
        ku = rng.integers(0, 2 ** B, n, dtype=np.uint64)
        ka = rng.integers(0, 2 ** B, n, dtype=np.uint64)
        edge = [0, 1, 2, 3, 2 ** B - 1, 2 ** B - 2, 2 ** (B - 1), 2 ** (B - 1) - 1, int(SQRT1_2 * 2 ** B), int(SQRT1_2 * 2 ** B) + 1]
        ang = [0, 1, 2 ** (B - 3) - 1, 2 ** (B - 3), 2 ** (B - 2), 3 * 2 ** (B - 3) - 1, 3 * 2 ** (B - 3), 2 ** B - 1, 2 ** (B - 1) + 2 ** (B - 3)]
        ku = np.concatenate([ku, np.repeat(np.array(edge, dtype=np.uint64), len(ang))])
        ka = np.concatenate([ka, np.tile(np.array(ang, dtype=np.uint64), len(edge))])
        zc, zs = box_muller(ku, ka, B, 9 if B == 53 else 6)
        worst_rel, worst_abs, worst_ulp, mism, not_cr = 0.0, 0.0, 0.0, 0, 0
        for j in range(len(ku)):
            u = (mp.mpf(int(ku[j])) + 1) / mp.mpf(2) ** B
            x = 2 * mp.mpf(int(ka[j])) / mp.mpf(2) ** B  # angle / pi, exact
            r = mp.sqrt(-2 * mp.log(u))
            for z, ex in ((zc[j], r * mp.cospi(x)), (zs[j], r * mp.sinpi(x))):
                err = abs(mp.mpf(float(z)) - ex)
                worst_abs = max(worst_abs, float(err))
                if r > 0:  # error relative to the radius, the natural scale of a Box-Muller output
                    worst_rel = max(worst_rel, float(err / r))
                exf = float(ex)
                if exf != 0:
                    worst_ulp = max(worst_ulp, float(err / np.spacing(abs(exf))))
                if float(z) != exf:
                    not_cr += 1
                if np.float32(z) != np.float32(exf):
                    mism += 1
        print(f"B={B} (J={9 if B == 53 else 6}): {len(ku)} pairs; max |z - z_exact| = {worst_abs:.3g};"
              f" max |z - z_exact| / r = {worst_rel:.3g} (= {worst_rel / 2 ** -53:.4g} ulp of r);"
              f" max error in ulps of z_exact = {worst_ulp:.4g}; z != RN64(z_exact) in {not_cr / (2 * len(ku)):.1%};"
              f" float32(z) != float32(z_exact) in {mism} of {2 * len(ku)}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join("test", "fixtures", "philox"))
    ap.add_argument("--accuracy", type=int, default=0)
    args = ap.parse_args()
    check_kat()
    if args.accuracy:
        accuracy(args.accuracy)
        return
    os.makedirs(args.out, exist_ok=True)
    data = build()
    path = os.path.join(args.out, "vectors.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n")
        for gi, (group, rows) in enumerate(data.items()):
            f.write(f'"{group}": [\n')
            f.write(",\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
            f.write("\n]" + ("," if gi < len(data) - 1 else "") + "\n")
        f.write("}\n")
    print(f"wrote {path}: {len(data['kat'])} KAT, {len(data['keys'])} keys, {len(data['blocks'])} blocks, {len(data['fills'])} fills", file=sys.stderr)


if __name__ == "__main__":
    main()
