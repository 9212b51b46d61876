// The Python client (clients/python) against the service listening on loopback: its pytest suite run by
// the Python named in MATERIA_TEST_PYTHON (a virtualenv with torch, safetensors, httpx, pytest and tqdm;
// .ci/run makes one), with the package's sources first on PYTHONPATH, the service taking an API key. Without that variable the pytest
// part is skipped and says so; the version lock is checked either way.
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { apiInfo } from '../../src/plugins/swagger.js'
import { build } from '../helper.js'

const clientDir = fileURLToPath(new URL('../../clients/python/', import.meta.url))

t.test('the client\'s version is the API version of openapi.yaml', async (t) => {
  const pyproject = readFileSync(`${clientDir}pyproject.toml`, 'utf8')
  const versionPy = readFileSync(`${clientDir}src/materia/_version.py`, 'utf8')
  const openapi = readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')
  t.equal(/^version = "([^"]+)"$/m.exec(pyproject)?.[1], apiInfo.version, 'pyproject.toml')
  t.equal(/^__version__ = "([^"]+)"$/m.exec(versionPy)?.[1], apiInfo.version, 'materia.__version__')
  t.equal(/^ {2}version: (\S+)$/m.exec(openapi)?.[1], apiInfo.version, 'openapi.yaml info.version')
})

const python = process.env.MATERIA_TEST_PYTHON
t.test('pytest: the Python client against a listening service', { skip: python === undefined ? 'MATERIA_TEST_PYTHON names no Python' : false, timeout: 600_000 }, async (t) => {
  const apiKey = 'python-client-test-key'
  const app = await build(t, { MATERIA_API_KEYS: apiKey })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const child = spawn(python as string, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests'], {
    cwd: clientDir,
    // the seeded values are PyTorch's AVX2 kernels' (README, "Seeded init"); AVX-512 ones round some differently
    env: { ...process.env, MATERIA_URL: url, MATERIA_API_KEY: apiKey, PYTHONPATH: `${clientDir}src`, ATEN_CPU_CAPABILITY: 'avx2', PYTHONDONTWRITEBYTECODE: '1' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  const summary = /^=*\s*(.*\d+ passed.*)$/m.exec(out)?.[1] ?? ''
  t.equal(code, 0, `pytest exit code\n${out.slice(-6000)}`)
  t.match(summary, /^\d+ passed/, 'pytest summary')
  t.notMatch(summary, /failed|error|skipped/, 'nothing failed or skipped')
  t.equal(app.materializations.residentBytes, 0, 'every session the tests opened was deleted, with its memory')
})
