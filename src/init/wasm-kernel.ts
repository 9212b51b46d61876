// Loading the project's WebAssembly kernels (src/init/*.wat, compiled into *-bytes.ts by scripts/):
// null on a runtime without WebAssembly SIMD, so the callers fall back to their JS paths.

/** The parts of the WebAssembly JS API used here (the project's lib and @types/node 20 do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> }
}

export interface WasmKernel {
  exports: Record<string, unknown>
  /** the module's own memory */
  memory: ArrayBuffer
}

export function instantiateWasm (base64: string): WasmKernel | null {
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly
    if (wasm === undefined) return null
    const instance = new wasm.Instance(new wasm.Module(Buffer.from(base64, 'base64')), {})
    return { exports: instance.exports, memory: (instance.exports.memory as { buffer: ArrayBuffer }).buffer }
  } catch {
    return null
  }
}
