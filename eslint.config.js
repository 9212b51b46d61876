// npm run lint: neostandard (the JavaScript Standard Style's successor, which fastify uses) with its
// TypeScript rules, over the service, its tests, benches and scripts.
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'coverage/**', '.tap/**', 'test/sdk/materia-api.ts', 'test/sdk/hey-api/**', 'src/init/*-wasm-bytes.ts'] }),
  {
    rules: {
      // `void reply.header(…)`: fastify's reply methods return the reply (thenable); void marks it as not awaited
      'no-void': ['error', { allowAsStatement: true }]
    }
  },
  {
    files: ['**/*.ts'],
    rules: {
      // `for (const _ of steps)`: a generator run for its effects
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', varsIgnorePattern: '^_', caughtErrors: 'none' }]
    }
  }
]
