// The package's TypeScript declarations (lib/index.d.ts, index.d.ts) against a program that
// uses the API as documented, with tsc --strict: a declaration that drifts from the API, or
// stops refusing misuse, fails here.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const here = (path) => fileURLToPath(new URL(path, import.meta.url))

test('the type declarations accept the documented API and refuse misuse (tsc --strict)', async () => {
  const tsc = here('../node_modules/typescript/bin/tsc')
  const args = [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--target', 'es2022', '--types', 'node', here('./fixtures/types.ts')]
  const result = await run(process.execPath, args).then(() => null, (err) => err)
  assert.equal(result, null, result && `${result.stdout}${result.stderr}`)
})
