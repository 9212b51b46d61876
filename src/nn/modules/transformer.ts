// Placeholder so the registry compiles; owned and replaced by the helper writing this family.
import type { AnyModuleDef } from '../define.js'

export const defs: AnyModuleDef[] = []
