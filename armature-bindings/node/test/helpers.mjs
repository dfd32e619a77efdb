import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { STATUS_CODES } from 'node:http'

const fixture = fileURLToPath(new URL('./fixtures/serve.mjs', import.meta.url))

/** Starts fixtures/serve.mjs in `mode`; resolves with the child, its port and its output so far. */
export function startChild (mode) {
  const child = spawn(process.execPath, [fixture, mode], { stdio: ['ignore', 'pipe', 'pipe'] })
  const out = { stdout: '', stderr: '' }
  child.stdout.on('data', (d) => { out.stdout += d })
  child.stderr.on('data', (d) => { out.stderr += d })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const port = new Promise((resolve, reject) => {
    const onData = () => {
      const line = out.stdout.split('\n')[0]
      if (out.stdout.includes('\n')) { child.stdout.off('data', onData); resolve(Number(line)) }
    }
    child.stdout.on('data', onData)
    exited.then(() => reject(new Error(`child exited before listening: ${out.stderr}`)))
  })
  return { child, out, exited, port }
}

/** Resolves with what `promise` resolves to, or rejects after `ms` (a hang is a failure). */
export function within (ms, promise, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms) })
  ]).finally(() => clearTimeout(timer))
}

/**
 * The body of an error answer, Fastify's shape: `{ statusCode, code?, error, message }`, where
 * `error` is the status's reason phrase.
 */
export function failure (statusCode, message, code) {
  const error = STATUS_CODES[statusCode]
  return code === undefined ? { statusCode, error, message } : { statusCode, code, error, message }
}

/** Serves `app` on a free port for the length of `body(url)`. */
export async function serving (app, body) {
  const s = await app.listen(0)
  try {
    return await body(s.url)
  } finally {
    await s.close()
  }
}
