// Bounds on what one module spec may ask for, checked before the work they would cause.
export const LIMITS = {
  /** module nesting (spec nesting and the built tree's height) */
  maxDepth: 64,
  maxModules: 100_000,
  maxTensors: 1_000_000,
  /** plain JSON nesting inside args/kwargs */
  maxValueDepth: 256,
  /** a `python` spec's length: the default JSON body limit (MATERIA_BODY_LIMIT), which bounds a JSON spec */
  maxPythonChars: 1_048_576,
  /** a `python` spec's tokens: two per argument (value and comma) for as many arguments as a JSON spec's `args` may hold */
  maxPythonTokens: 200_000
} as const
