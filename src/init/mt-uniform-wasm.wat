;; MT19937 float32 uniform_ kernel (docs/torch-init.md §1-2), WebAssembly SIMD.
;; Source of src/init/mt-uniform-wasm-bytes.ts (compiled by scripts/build-wasm.ts with wabt).
;;
;; Memory layout: the engine's 624 state words at byte 0, torch's `left` at byte 2496 and `next` at
;; byte 2500 (copied in and out by mt-uniform-wasm.ts); output chunks from byte 4096 on.
;;
;; twists(n) regenerates the block n times (MT19937.discard's whole blocks: no tempering, no output).
;;
;; fill(count, out, mask, scaled, from, clampTo, from32) takes `count` draws with the bookkeeping of
;; MT19937.takeFromBlock (a twist when `left` reaches 1) and writes, from byte `out` (any alignment),
;; f32(f64(draw & mask) * scaled + from) for each draw, then v == clampTo -> from32 (clampTo NaN:
;; never). This is uniform-fill.ts's uniformF32 hot path: the caller dispatches only when
;; sumIsExact holds, so the f64 product (<= 48 bits) and the sum are exact and the demotion is the
;; single rounding, as the store into a Float32Array is in JS. Groups of 4 draws may read up to 3
;; words past the block (harmless) and write up to 3 floats past the chunk (the caller leaves room;
;; the next block's outputs overwrite them).
(module
  (memory (export "memory") 2)

  ;; Regenerate the 624-word block in place (MT19937.twist), 4 words per v128 where the
  ;; recurrence allows: k < 224 reads only old words; 227 <= k < 623 reads s[k-227..k-224], already new.
  (func $twist
    (local $p i32) (local $y i32) (local $a v128)
    (local $upper v128) (local $lower v128) (local $mat v128) (local $one v128)
    (local.set $upper (i32x4.splat (i32.const 0x80000000)))
    (local.set $lower (i32x4.splat (i32.const 0x7fffffff)))
    (local.set $mat (i32x4.splat (i32.const 0x9908b0df)))
    (local.set $one (i32x4.splat (i32.const 1)))
    ;; k = 0 .. 223: s[k] = s[k+397] ^ twist(s[k], s[k+1])
    (local.set $p (i32.const 0))
    (loop $l1
      (local.set $a (v128.or
        (v128.and (v128.load (local.get $p)) (local.get $upper))
        (v128.and (v128.load offset=4 (local.get $p)) (local.get $lower))))
      (v128.store (local.get $p)
        (v128.xor (v128.load offset=1588 (local.get $p))
          (v128.xor (i32x4.shr_u (local.get $a) (i32.const 1))
            (v128.and (local.get $mat) (i32x4.neg (v128.and (local.get $a) (local.get $one)))))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br_if $l1 (i32.lt_u (local.get $p) (i32.const 896))))
    ;; k = 224 .. 226 (scalar)
    (loop $l2
      (local.set $y (i32.or
        (i32.and (i32.load (local.get $p)) (i32.const 0x80000000))
        (i32.and (i32.load offset=4 (local.get $p)) (i32.const 0x7fffffff))))
      (i32.store (local.get $p)
        (i32.xor (i32.load offset=1588 (local.get $p))
          (i32.xor (i32.shr_u (local.get $y) (i32.const 1))
            (i32.and (i32.const 0x9908b0df) (i32.sub (i32.const 0) (i32.and (local.get $y) (i32.const 1)))))))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (br_if $l2 (i32.lt_u (local.get $p) (i32.const 908))))
    ;; k = 227 .. 622: s[k] = s[k-227] ^ twist(s[k], s[k+1])
    (loop $l3
      (local.set $a (v128.or
        (v128.and (v128.load (local.get $p)) (local.get $upper))
        (v128.and (v128.load offset=4 (local.get $p)) (local.get $lower))))
      (v128.store (local.get $p)
        (v128.xor (v128.load (i32.sub (local.get $p) (i32.const 908)))
          (v128.xor (i32x4.shr_u (local.get $a) (i32.const 1))
            (v128.and (local.get $mat) (i32x4.neg (v128.and (local.get $a) (local.get $one)))))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br_if $l3 (i32.lt_u (local.get $p) (i32.const 2492))))
    ;; k = 623: s[623] = s[396] ^ twist(s[623], s[0])
    (local.set $y (i32.or
      (i32.and (i32.load (i32.const 2492)) (i32.const 0x80000000))
      (i32.and (i32.load (i32.const 0)) (i32.const 0x7fffffff))))
    (i32.store (i32.const 2492)
      (i32.xor (i32.load (i32.const 1584))
        (i32.xor (i32.shr_u (local.get $y) (i32.const 1))
          (i32.and (i32.const 0x9908b0df) (i32.sub (i32.const 0) (i32.and (local.get $y) (i32.const 1))))))))

  (func (export "twists") (param $n i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (call $twist)
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again))))

  (func (export "fill")
    (param $count i32) (param $out i32) (param $mask i32) (param $scaled f64) (param $from f64)
    (param $clampTo f32) (param $from32 f32)
    (local $left i32) (local $next i32) (local $take i32) (local $p i32) (local $e i32) (local $o i32)
    (local $y v128) (local $vmask v128) (local $vs v128) (local $vf v128) (local $vc v128) (local $vf32 v128)
    (local $lo v128) (local $hi v128) (local $v v128)
    (local.set $vmask (i32x4.splat (local.get $mask)))
    (local.set $vs (f64x2.splat (local.get $scaled)))
    (local.set $vf (f64x2.splat (local.get $from)))
    (local.set $vc (f32x4.splat (local.get $clampTo)))
    (local.set $vf32 (f32x4.splat (local.get $from32)))
    (local.set $left (i32.load (i32.const 2496)))
    (local.set $next (i32.load (i32.const 2500)))
    (block $done
      (loop $chunk
        (br_if $done (i32.le_s (local.get $count) (i32.const 0)))
        ;; MT19937.takeFromBlock
        (if (i32.eq (local.get $left) (i32.const 1))
          (then (call $twist) (local.set $left (i32.const 624)) (local.set $next (i32.const 0)))
          (else (local.set $left (i32.sub (local.get $left) (i32.const 1)))))
        (local.set $take (select (local.get $count) (local.get $left) (i32.lt_s (local.get $count) (local.get $left))))
        (local.set $left (i32.sub (local.get $left) (i32.sub (local.get $take) (i32.const 1))))
        (local.set $p (i32.shl (local.get $next) (i32.const 2)))
        (local.set $next (i32.add (local.get $next) (local.get $take)))
        (local.set $e (i32.shl (local.get $next) (i32.const 2)))
        (local.set $o (local.get $out))
        (loop $group
          (local.set $y (v128.load (local.get $p)))
          (local.set $y (v128.xor (local.get $y) (i32x4.shr_u (local.get $y) (i32.const 11))))
          (local.set $y (v128.xor (local.get $y) (v128.and (i32x4.shl (local.get $y) (i32.const 7)) (v128.const i32x4 0x9d2c5680 0x9d2c5680 0x9d2c5680 0x9d2c5680))))
          (local.set $y (v128.xor (local.get $y) (v128.and (i32x4.shl (local.get $y) (i32.const 15)) (v128.const i32x4 0xefc60000 0xefc60000 0xefc60000 0xefc60000))))
          (local.set $y (v128.xor (local.get $y) (i32x4.shr_u (local.get $y) (i32.const 18))))
          (local.set $y (v128.and (local.get $y) (local.get $vmask)))
          (local.set $lo (f64x2.add (f64x2.mul (f64x2.convert_low_i32x4_u (local.get $y)) (local.get $vs)) (local.get $vf)))
          (local.set $hi (f64x2.add (f64x2.mul (f64x2.convert_low_i32x4_u
            (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $y) (local.get $y))) (local.get $vs)) (local.get $vf)))
          (local.set $v (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (local.get $lo)) (f32x4.demote_f64x2_zero (local.get $hi))))
          (v128.store (local.get $o)
            (v128.bitselect (local.get $vf32) (local.get $v) (f32x4.eq (local.get $v) (local.get $vc))))
          (local.set $o (i32.add (local.get $o) (i32.const 16)))
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br_if $group (i32.lt_u (local.get $p) (local.get $e))))
        (local.set $out (i32.add (local.get $out) (i32.shl (local.get $take) (i32.const 2))))
        (local.set $count (i32.sub (local.get $count) (local.get $take)))
        (br $chunk)))
    (i32.store (i32.const 2496) (local.get $left))
    (i32.store (i32.const 2500) (local.get $next)))
)
