// A way to run V8's full GC from code: arena memory (SharedArrayBuffer) goes back to the OS only when
// every thread that saw it has collected its reference, so deleting a materialization collects.
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** V8's gc(), or undefined when this runtime does not allow exposing it. */
export const collectGarbage: (() => void) | undefined = (() => {
  try {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as unknown
    return typeof gc === 'function' ? gc as () => void : undefined
  } catch {
    return undefined
  }
})()
