// Public surface of the nn catalog; routes import only this file.
export type { DType, DTypeInfo } from '../tensor/dtype.js'
export { DTYPES, DTYPE_NAMES, parseDType } from '../tensor/dtype.js'
export type { TensorInfo, TensorSpec } from '../tensor/spec.js'
export type { SignatureParam, ModuleClassInfo } from './catalog.js'
export { listModuleClasses, getModuleClass, lookupClass } from './catalog.js'
export type { BuiltModule } from './build.js'
export { buildModule, buildModuleTree, LIMITS, moduleCost, type ModuleCost } from './build.js'
export type { ModuleNode, OwnTensor } from './define.js'
