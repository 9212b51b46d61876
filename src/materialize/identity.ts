// What determines a reproducible materialization's bytes, as one canonical string: the module
// (class, arguments, ties), the init with its overrides in order, seed, rng, dtype, and the version of
// the byte format. Two materializations of the same thing, on any replica, have the same identity,
// so their ETags (http/byte-response.ts) are equal and a cache may serve either for the other.
import type { BuiltModule } from '../nn/index.js'
import type { MaterializationOptions } from './registry.js'

/**
 * Raised when the bytes of some request change (a layout or init fix): ETags issued before then
 * stop matching, so no cache serves the old bytes for the new.
 */
export const BYTES_FORMAT_VERSION = 1

/** JSON with object keys sorted at every level (arrays keep their order). */
export function canonicalJson (value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v
    return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
  })
}

/** The identity of a materialization whose bytes are a function of its request (any init but empty and checkpoint). */
export function materializationIdentity (built: BuiltModule, opts: Pick<MaterializationOptions, 'init' | 'overrides' | 'seed' | 'rng' | 'dtype'>): string {
  return canonicalJson({
    version: BYTES_FORMAT_VERSION,
    module: { class: built.qualname, args: built.args, kwargs: built.kwargs },
    ties: built.tensors.flatMap((t) => t.tiedTo !== undefined ? [[t.name, t.tiedTo]] : []),
    init: opts.init,
    // applied in order: a list, so sorting keys keeps it
    overrides: Object.entries(opts.overrides ?? {}),
    seed: opts.seed,
    rng: opts.rng,
    dtype: opts.dtype
  })
}
