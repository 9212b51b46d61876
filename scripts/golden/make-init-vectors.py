#!/usr/bin/env python3
"""Extra golden vectors for src/init (torch CPU initialisation port).

Usage (from the repo root):
    python3 scripts/golden/make-init-vectors.py --torchref DIR [--out DIR]    (or TORCHREF_DIR=DIR)

Needs torch 2.13 (pip) and torchref (docs/torch-init.md §10). The tests read only the JSON written.

Writes, into test/fixtures/init/ (the tests never run Python):
  torch-2.13-extra.json   oracle: the installed torch (2.13 avx2 on an AVX2 machine without AVX-512;
                          refuses to run otherwise). uniform_/normal_ sweeps over seeds, dtypes, sizes
                          and bounds, normal-cache sequences, nn.init calls, large fills, generator
                          state bytes (sha256 of torch.get_rng_state()).
  ref-1.13-extra.json     oracle: the pure-Python torchref reference with Profile("1.13", "avx2")
                          (verified against real torch 1.13 by its authors; no 1.13 build here).
  numeric-extra.json      float16/bfloat16 rounding bits (from torch), fma32/fma64 exact results
                          (exact rationals), correctly rounded log/sin/cos (mpmath, 250 bits) next to
                          glibc's (Python's math), erf from glibc, and one-lane log256_ps /
                          sincos256_ps results from torchref.avx_mathfun.

Byte strings are little-endian hex; long ones are stored as sha256 only.
"""
import argparse
import hashlib
import json
import math
import os
import random
import struct
import sys
from fractions import Fraction

import torch

SEEDS = [0, 1, 12345, 2 ** 40 + 7]
SIZES = [1, 5, 15, 16, 17, 31, 33, 100, 257]
DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16}
UNIFORM_BOUNDS = [(0.0, 1.0), (-0.5, 0.5), (-0.22360679774997894, 0.22360679774997894)]
NORMAL_PARAMS = [(0.0, 1.0), (0.25, 0.02), (-1.5, 3.3)]
HEX_LIMIT = 33  # element counts above this are stored as sha256 only (float64 normal: always hex)


def tbytes(t):
    t = t.contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def state_info():
    st = torch.get_rng_state().numpy().tobytes()
    left, = struct.unpack_from("<i", st, 8)
    nxt, = struct.unpack_from("<Q", st, 16)
    valid, = struct.unpack_from("<i", st, 5040)
    cached, = struct.unpack_from("<d", st, 5024)
    return {"sha256": hashlib.sha256(st).hexdigest(), "left": left, "next": nxt,
            "cachedNormal": cached.hex() if valid else None}


def encode(b, force_hex=False, n=0):
    if force_hex or n <= HEX_LIMIT:
        return {"hex": b.hex()}
    return {"sha256": hashlib.sha256(b).hexdigest()}


def check_oracle():
    cap = torch.backends.cpu.get_cpu_capability()
    if cap != "AVX2":
        sys.exit("torch CPU capability is %s; these vectors are for the AVX2 kernels "
                 "(set ATEN_CPU_CAPABILITY=avx2)" % cap)
    return cap


def torch_vectors():
    cap = check_oracle()
    V = {"oracle": {"torch": torch.__version__, "capability": cap}, "seeds": [], "ops": [], "sequences": [],
         "inits": [], "large": []}
    # Seeding: the state right after manual_seed (including out-of-32-bit and negative seeds).
    for s in SEEDS + [2 ** 32 + 5, 2 ** 64 - 1, -1, 2 ** 63 - 1, 67280421310721]:
        torch.manual_seed(s)
        V["seeds"].append({"seed": str(s), "initialSeed": str(torch.initial_seed()), "state": state_info()})
    # uniform_ / normal_ sweeps
    for seed in SEEDS:
        for dname, dt in DTYPES.items():
            for n in SIZES:
                for kind, params in (("uniform", UNIFORM_BOUNDS), ("normal", NORMAL_PARAMS)):
                    for p0, p1 in params:
                        torch.manual_seed(seed)
                        t = torch.empty(n, dtype=dt)
                        getattr(t, kind + "_")(p0, p1)
                        V["ops"].append({"seed": seed, "op": kind, "dtype": dname, "numel": n, "params": [p0, p1],
                                         **encode(tbytes(t), kind == "normal" and dname == "float64", n),
                                         "state": state_info()})
    # Normal-cache sequences: several ops on one stream, state after each.
    seqs = [
        [("normal", "float32", 5), ("normal", "float32", 5), ("normal", "float32", 3)],
        [("normal", "float32", 5), ("normal", "float32", 20), ("normal", "float32", 1)],
        [("normal", "float64", 3), ("uniform", "float32", 3), ("normal", "float16", 1), ("normal", "bfloat16", 2)],
        [("normal", "float32", 1), ("uniform", "float64", 7), ("normal", "float32", 15), ("normal", "float32", 16),
         ("normal", "float32", 1)],
    ]
    for seed in SEEDS:
        for seq in seqs:
            torch.manual_seed(seed)
            steps = []
            for kind, dname, n in seq:
                t = torch.empty(n, dtype=DTYPES[dname])
                getattr(t, kind + "_")()
                steps.append({"op": kind, "dtype": dname, "numel": n, **encode(tbytes(t), True), "state": state_info()})
            V["sequences"].append({"seed": seed, "steps": steps})
    # nn.init calls (each starts from manual_seed(seed))
    I = torch.nn.init
    s5 = math.sqrt(5)
    inits = [
        ("kaiming_uniform_", (3, 4), "float32", {"a": s5}),
        ("kaiming_uniform_", (20, 7), "float32", {"a": s5}),
        ("kaiming_uniform_", (8, 3, 5), "float32", {"a": 0.2, "mode": "fan_out"}),
        ("kaiming_uniform_", (6, 5), "float64", {"nonlinearity": "relu"}),
        ("kaiming_uniform_", (6, 5), "float16", {"a": s5}),
        ("kaiming_uniform_", (6, 5), "bfloat16", {"a": s5}),
        ("kaiming_uniform_", (0, 5), "float32", {}),
        ("kaiming_normal_", (16, 9), "float32", {"mode": "fan_out", "nonlinearity": "relu"}),
        ("kaiming_normal_", (3, 3), "float32", {"nonlinearity": "tanh"}),
        ("kaiming_normal_", (5, 7), "bfloat16", {"nonlinearity": "selu"}),
        ("xavier_uniform_", (12, 4), "float32", {}),
        ("xavier_uniform_", (33, 17, 3), "float32", {"gain": 5.0 / 3}),
        ("xavier_uniform_", (4, 4), "float64", {}),
        ("xavier_normal_", (1, 1, 4), "float32", {}),
        ("xavier_normal_", (9, 7), "float32", {"gain": math.sqrt(2.0)}),
        ("xavier_normal_", (9, 7), "float16", {}),
        ("uniform_", (7, 3), "float32", {"a": -3.0, "b": 0.125}),
        ("normal_", (2, 3), "float64", {"mean": 1.0, "std": 2.0}),
        ("trunc_normal_", (64, 33), "float32", {"std": 0.02}),
        ("trunc_normal_", (17,), "float32", {}),
        ("trunc_normal_", (3,), "float32", {}),
        ("trunc_normal_", (40, 5), "float32", {"a": -0.5, "b": 0.5}),
        ("trunc_normal_", (11, 3), "float32", {"mean": 0.3, "std": 0.5, "a": -0.2, "b": 1.0}),
        ("trunc_normal_", (50,), "bfloat16", {"a": -0.5, "b": 0.5}),
        ("trunc_normal_", (50,), "float16", {"std": 0.02}),
        ("constant_", (3, 5), "float16", {"val": 0.1}),
        ("constant_", (3, 5), "bfloat16", {"val": 0.1}),
        ("constant_", (2, 2), "float32", {"val": -1.0 / 3}),
        ("ones_", (4,), "float64", {}),
        ("zeros_", (4,), "bfloat16", {}),
        ("eye_", (3, 5), "float32", {}),
        ("dirac_", (6, 2, 3, 3), "float32", {"groups": 2}),
        ("dirac_", (4, 3, 5), "float16", {}),
    ]
    for seed in SEEDS:
        for name, shape, dname, kw in inits:
            torch.manual_seed(seed)
            t = torch.empty(shape, dtype=DTYPES[dname])
            getattr(I, name)(t, **kw)
            n = t.numel()
            V["inits"].append({"seed": seed, "fn": name, "shape": list(shape), "dtype": dname, "kwargs": kw,
                               **encode(tbytes(t), False, n), "state": state_info()})
    # Large fills: many twists, chunk boundaries, ragged tails.
    for kind, dname, n in (("uniform", "float32", 100003), ("normal", "float32", 100003),
                           ("uniform", "float64", 20011), ("normal", "float64", 4099),
                           ("normal", "float16", 10007), ("uniform", "bfloat16", 10007)):
        torch.manual_seed(0)
        t = torch.empty(n, dtype=DTYPES[dname])
        getattr(t, kind + "_")()
        V["large"].append({"seed": 0, "op": kind, "dtype": dname, "numel": n,
                           **encode(tbytes(t), dname == "float64" and kind == "normal", n), "state": state_info()})
    return V


def ref_vectors(torchref_dir):
    """torch 1.13 profile, from the reference implementation (no 1.13 build available here)."""
    sys.path.insert(0, torchref_dir)
    from torchref.dist import Profile, uniform_values, normal_values
    from torchref.fp import pack_values
    from torchref.mt19937 import Generator
    prof = Profile("1.13", "avx2")
    V = {"oracle": {"reference": "torchref", "profile": "1.13/avx2"}, "ops": []}
    for seed in SEEDS:
        for dname in DTYPES:
            for n in SIZES:
                cases = [("uniform", p) for p in UNIFORM_BOUNDS]
                if dname in ("float32", "float64") or n < 16:
                    cases += [("normal", p) for p in NORMAL_PARAMS]
                for kind, (p0, p1) in cases:
                    g = Generator(seed)
                    fn = uniform_values if kind == "uniform" else normal_values
                    vals = fn(g, n, p0, p1, dname, prof)
                    e = g.engine
                    V["ops"].append({"seed": seed, "op": kind, "dtype": dname, "numel": n, "params": [p0, p1],
                                     **encode(pack_values(dname, vals), kind == "normal" and dname == "float64", n),
                                     "left": e.left, "next": e.next,
                                     "cachedNormal": None if g.next_double_normal is None else g.next_double_normal.hex()})
    return V


# ---------------------------------------------------------------------------------- numeric helpers
def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f32_from_bits(b):
    return struct.unpack("<f", struct.pack("<I", b))[0]


def round_fraction(q, mant_bits, emin):
    """Round a Fraction to the nearest binary float with `mant_bits` significand bits (ties to even),
    minimum normal exponent emin (subnormals below). Returns a Python float (exact)."""
    if q == 0:
        return 0.0
    sign = -1 if q < 0 else 1
    q = abs(q)
    e = q.numerator.bit_length() - q.denominator.bit_length()
    if Fraction(2) ** e > q:
        e -= 1
    e = max(e, emin)
    scale = Fraction(2) ** (mant_bits - 1 - e)
    m = q * scale
    fl = m.numerator // m.denominator
    rem = m - fl
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2 == 1):
        fl += 1
    return sign * float(Fraction(fl) / scale)


def numeric_vectors(torchref_dir):
    import mpmath
    mpmath.mp.prec = 250
    rnd = random.Random(20240611)
    V = {"f16": [], "bf16": [], "fma32": [], "fma64": [], "libm": [], "erf": []}
    # float16 / bfloat16 rounding: random bit patterns plus ties, subnormals, overflow, specials.
    pats = [rnd.getrandbits(32) for _ in range(1500)]
    for e in range(100, 145):  # around float16's range, with tie patterns in the low bits
        for low in (0x1000, 0x0fff, 0x1001, 0x3000, 0x2000, 0x8000, 0x7fff, 0x18000):
            pats.append((e << 23) | (rnd.getrandbits(10) << 13) & 0x7fffff | low & 0x7fffff)
            pats.append(0x80000000 | (e << 23) | low)
    pats += [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0x477fefff, 0x477ff000, 0x33000000,
             0x33000001, 0x32ffffff, 0x387fc000, 0x7f7fffff, 0x7f7f8000, 0x3f808000, 0x3f818000]
    pats = [p & 0xffffffff for p in pats]
    import numpy as np
    xs = torch.from_numpy(np.array(pats, dtype=np.uint32).view(np.float32))
    h = xs.to(torch.float16).view(torch.int16).numpy().astype("uint16")
    b = xs.to(torch.bfloat16).view(torch.int16).numpy().astype("uint16")
    V["f16"] = [["%08x" % p, "%04x" % int(hv)] for p, hv in zip(pats, h) if not (0x7f800000 < (p & 0x7fffffff))]
    V["bf16"] = [["%08x" % p, "%04x" % int(bv)] for p, bv in zip(pats, b) if not (0x7f800000 < (p & 0x7fffffff))]
    V["nanF16"] = "%04x" % int(torch.tensor([float("nan")]).to(torch.float16).view(torch.int16).numpy().astype("uint16")[0])
    # fma32: random float32 triples plus crafted near-ties (the double sum lands on a float32 midpoint).
    def rf32(lo=-30, hi=30):
        return f32_from_bits(((rnd.getrandbits(1) << 31) | ((127 + rnd.randint(lo, hi)) << 23) | rnd.getrandbits(23)))
    triples = [(rf32(), rf32(), rf32()) for _ in range(1000)]
    for _ in range(1500):
        r = f32_from_bits((rnd.randint(100, 150) << 23) | rnd.getrandbits(23))
        ulp = math.ldexp(1.0, math.frexp(r)[1] - 24)
        a = f32_from_bits(f32_bits(1.0 + rnd.choice([1, -1, 3, -3]) * 2.0 ** -23))
        bexp = f32_from_bits(f32_bits(ulp / 2 * rnd.choice([1.0, 1.0 + 2.0 ** -23, 1.0 - 2.0 ** -24])))
        sgn = rnd.choice([1.0, -1.0])
        triples.append((a, sgn * bexp, r))
    for a, b_, c in triples:
        exact = Fraction(a) * Fraction(b_) + Fraction(c)
        v = round_fraction(exact, 24, -126)
        V["fma32"].append(["%08x" % f32_bits(a), "%08x" % f32_bits(b_), "%08x" % f32_bits(c), "%08x" % f32_bits(v)])
    # fma64: random doubles plus near-ties and cancellations.
    def rf64(lo=-60, hi=60):
        return math.ldexp(1.0 + rnd.getrandbits(52) * 2.0 ** -52, rnd.randint(lo, hi)) * rnd.choice([1, -1])
    trip64 = [(rf64(), rf64(), rf64()) for _ in range(1000)]
    for _ in range(500):
        a, b_ = rf64(-5, 5), rf64(-5, 5)
        p = a * b_
        trip64.append((a, b_, -p))  # exact cancellation: result is the product's rounding error
        trip64.append((a, b_, rf64(-60, -50) * p))  # tiny c
        k = rnd.getrandbits(53) * 2.0 ** -53
        trip64.append((k, rf64(-2, 2), rf64(-2, 2)))  # uniform_-like
    for a, b_, c in trip64:
        exact = Fraction(a) * Fraction(b_) + Fraction(c)
        v = round_fraction(exact, 53, -1022)
        V["fma64"].append([a.hex(), b_.hex(), c.hex(), v.hex()])
    # Correctly rounded log / sin / cos next to glibc's (Box-Muller-like inputs plus edge cases).
    logs = [1.0 - rnd.getrandbits(53) * 2.0 ** -53 for _ in range(2000)]
    logs += [math.ldexp(1.0 + rnd.getrandbits(52) * 2.0 ** -52, rnd.randint(-1074, 1023)) for _ in range(300)]
    logs += [5e-324, 2.2250738585072014e-308, 1.0 - 2.0 ** -53, 1.0 + 2.0 ** -52, 2.0 ** -53, 0.5, 2.0,
             math.sqrt(0.5), math.sqrt(2.0), 1e300]
    logs = [x for x in logs if x > 0 and math.isfinite(x)]
    angles = [2.0 * math.pi * (rnd.getrandbits(53) * 2.0 ** -53) for _ in range(2000)]
    angles += [2.0 * math.pi * (k / 8) for k in range(9)] + [1e-300, 5e-324, 1e-8, 0.78539816339744828,
                                                              1.5707963267948966, 3.141592653589793, 100.0,
                                                              -2.5, 12345.678]
    for x in logs:
        V["libm"].append(["log", x.hex(), float(mpmath.log(x)).hex(), math.log(x).hex()])
    for x in angles:
        V["libm"].append(["sin", x.hex(), float(mpmath.sin(x)).hex(), math.sin(x).hex()])
        V["libm"].append(["cos", x.hex(), float(mpmath.cos(x)).hex(), math.cos(x).hex()])
    # One lane of log256_ps / sincos256_ps from the reference (exhaustively verified against torch).
    sys.path.insert(0, torchref_dir)
    from torchref import avx_mathfun as am
    V["avxLog"] = []
    V["avxSincos"] = []
    ks = [rnd.getrandbits(24) for _ in range(2000)] + [0, 1, 2, 0xffffff, 0x800000, 0x7fffff, 0xb504f3, 0xb504f4]
    for k in ks:
        u1 = 1.0 - k * 2.0 ** -24
        V["avxLog"].append(["%08x" % f32_bits(u1), "%08x" % f32_bits(am.log_ps(u1))])
    two_pi_f = struct.unpack("<f", struct.pack("<f", 2.0 * math.pi))[0]
    for k in ks:
        th = struct.unpack("<f", struct.pack("<f", two_pi_f * (k * 2.0 ** -24)))[0]
        sn, cs = am.sincos_ps(th)
        V["avxSincos"].append(["%08x" % f32_bits(th), "%08x" % f32_bits(sn), "%08x" % f32_bits(cs)])
    for x in [rnd.uniform(-7, 7) for _ in range(500)] + [0.0, 1e-10, 0.5, 2.5, -2.5, 5.9, 6.0, 30.0]:
        V["erf"].append([x.hex(), math.erf(x).hex()])
    return V


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--torchref", default=os.environ.get("TORCHREF_DIR"),
                    help="folder that holds the torchref/ Python package (default: $TORCHREF_DIR)")
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "test", "fixtures", "init"))
    args = ap.parse_args()
    if not args.torchref or not os.path.isfile(os.path.join(args.torchref, "torchref", "__init__.py")):
        ap.error("the 1.13 and numeric vectors need torchref, the pure-Python reference of torch's CPU "
                 "init (docs/torch-init.md §10): pass --torchref DIR or set TORCHREF_DIR to the folder "
                 "that holds torchref/ (got %r)" % args.torchref)
    os.makedirs(args.out, exist_ok=True)
    for name, fn in (("torch-2.13-extra.json", torch_vectors), ("ref-1.13-extra.json", lambda: ref_vectors(args.torchref)),
                     ("numeric-extra.json", lambda: numeric_vectors(args.torchref))):
        V = fn()
        path = os.path.join(args.out, name)
        with open(path, "w") as fh:
            json.dump(V, fh, separators=(",", ":"))
            fh.write("\n")
        print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
