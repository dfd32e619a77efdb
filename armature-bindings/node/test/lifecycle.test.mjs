// Concurrency, graceful close, process exit and Ctrl-C.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { App, get } from '../lib/index.mjs'
import { startChild, within } from './helpers.mjs'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

test('1,000 concurrent requests to a slow async handler all complete', async () => {
  let inFlight = 0
  let most = 0
  const app = App.new().route('/slow/:n', get(async (req) => {
    inFlight++
    most = Math.max(most, inFlight)
    await sleep(200)
    inFlight--
    return { n: req.param('n') }
  }))
  const s = await app.listen(0)
  try {
    const all = await within(30000, Promise.all(Array.from({ length: 1000 }, (_, i) =>
      fetch(`${s.url}/slow/${i}`).then(async (r) => [r.status, (await r.json()).n]))), '1,000 requests')
    assert.equal(all.length, 1000)
    all.forEach(([status, n], i) => { assert.equal(status, 200); assert.equal(n, String(i)) })
    // They overlapped: handlers were waiting together, not one after another.
    assert.ok(most >= 100, `at most ${most} handlers in flight at once`)
  } finally {
    await s.close()
  }
})

test('a slow async handler does not block other requests', async () => {
  let release
  const gate = new Promise((resolve) => { release = resolve })
  const app = App.new()
    .route('/gate', get(async () => { await gate; return 'released' }))
    .route('/fast', get(() => 'fast'))
  const s = await app.listen(0)
  try {
    const slow = fetch(`${s.url}/gate`).then((r) => r.text())
    await sleep(50)
    assert.equal(await within(5000, fetch(`${s.url}/fast`).then((r) => r.text()), 'fast request'), 'fast')
    release()
    assert.equal(await slow, 'released')
  } finally {
    await s.close()
  }
})

test('close() is graceful: in-flight requests finish, new connections are refused', async () => {
  const app = App.new().route('/slow', get(async () => { await sleep(300); return 'finished' }))
  const s = await app.listen(0)
  const inFlight = fetch(`${s.url}/slow`).then((r) => r.text())
  await sleep(50)
  const closing = s.close()
  assert.equal(await inFlight, 'finished')
  await within(5000, closing, 'close')
  await assert.rejects(fetch(`${s.url}/slow`))
})

test('app.close() closes every server the app serves, gracefully, and may be called again', async () => {
  const app = App.new().route('/slow', get(async () => { await sleep(200); return 'finished' }))
  const [a, b] = [await app.listen(0), await app.listen(0)]
  const inFlight = fetch(`${a.url}/slow`).then((r) => r.text())
  await sleep(50)
  await within(5000, app.close(), 'app.close()')
  assert.equal(await inFlight, 'finished')
  await within(5000, Promise.all([a.closed, b.closed]), 'both servers closed')
  for (const s of [a, b]) await assert.rejects(fetch(`${s.url}/slow`))
  await within(5000, app.close(), 'a second app.close()')
})

test('the process exits by itself after close()', async () => {
  const { exited, out } = startChild('close-after-request')
  const { code } = await within(10000, exited, 'child exit after close()')
  assert.equal(code, 0, out.stderr)
  assert.match(out.stdout, /closed\nexit 0/)
})

test('an app used only through inject() does not keep the process alive', async () => {
  const { exited, out } = startChild('inject-only')
  const { code } = await within(10000, exited, 'child exit after inject()')
  assert.equal(code, 0, out.stderr)
  assert.equal(out.stdout, '200 {"id":"3","name":"Alice"}\nexit 0\n')
})

test('Ctrl-C (SIGINT) shuts down gracefully: the in-flight request completes, the process exits 0', async () => {
  const { child, exited, out, port } = startChild('serve')
  const p = await within(10000, port, 'child listening')
  const inFlight = fetch(`http://127.0.0.1:${p}/slow`).then((r) => r.text())
  await sleep(100)
  child.kill('SIGINT')
  assert.equal(await inFlight, 'slow done')
  const { code, signal } = await within(10000, exited, 'child exit after SIGINT')
  assert.equal(signal, null, 'ended by the graceful path, not killed by the signal')
  assert.equal(code, 0, out.stderr)
})

test('SIGTERM shuts down gracefully too, and a second Ctrl-C is left to Node (default: terminate)', async () => {
  const { child, exited, out, port } = startChild('serve')
  const p = await within(10000, port, 'child listening')
  // /gate never finishes by itself: the graceful shutdown waits for it.
  const held = fetch(`http://127.0.0.1:${p}/gate`).then((r) => r.status, () => 'failed')
  await sleep(100)
  child.kill('SIGTERM')
  // Once the first signal is handled the listener closes: new connections are refused while
  // the held request drains. Wait for that (polling, no fixed delay) before the second signal.
  const refused = async () => {
    for (;;) {
      try { await fetch(`http://127.0.0.1:${p}/users/1`) } catch { return }
      await sleep(50)
    }
  }
  await within(10000, refused(), 'listener closed after SIGTERM')
  child.kill('SIGINT')
  const { signal } = await within(10000, exited, 'child exit after the second signal')
  assert.equal(signal, 'SIGINT', 'the second signal terminates the process')
  assert.equal(await held, 'failed')
})

test('req.signal aborts when the client goes away (HTTP/1.1 close, HTTP/2 reset) and not otherwise', async () => {
  const net = await import('node:net')
  const http2 = await import('node:http2')
  let started
  let aborted
  const app = App.new()
    .route('/hang', get((req) => new Promise((resolve) => {
      req.signal.addEventListener('abort', () => {
        // The request stays readable after the abort; the late answer goes nowhere.
        aborted({ name: req.signal.reason.name, aborted: req.signal.aborted, route: req.route })
        resolve('too late')
      })
      started()
    })))
    .route('/kept', get(async (req) => {
      const signal = req.signal
      await sleep(10)
      return { aborted: signal.aborted }
    }))
    .route('/plaintext', get(() => 'Hello'))
  const s = await app.listen(0)
  const next = () => [new Promise((resolve) => { started = resolve }), new Promise((resolve) => { aborted = resolve })]
  try {
    // HTTP/1.1: the client closes its connection while the handler waits.
    let [run, abort] = next()
    const socket = net.connect(s.port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write('GET /hang HTTP/1.1\r\nHost: localhost\r\n\r\n')
    await within(10000, run, 'the handler to start')
    socket.destroy()
    assert.deepEqual(await within(10000, abort, 'the abort after an HTTP/1.1 close'), { name: 'AbortError', aborted: true, route: '/hang' })

    // HTTP/2 (prior knowledge): the client resets the stream; the connection stays open.
    ;[run, abort] = next()
    const session = http2.connect(`http://127.0.0.1:${s.port}`)
    session.on('error', () => {})
    const stream = session.request({ ':path': '/hang' })
    stream.on('error', () => {})
    await within(10000, run, 'the handler to start')
    stream.close(http2.constants.NGHTTP2_CANCEL)
    assert.equal((await within(10000, abort, 'the abort after an HTTP/2 reset')).name, 'AbortError')
    // The same session still works.
    const ok = session.request({ ':path': '/plaintext' })
    ok.setEncoding('utf8')
    let text = ''
    ok.on('data', (d) => { text += d })
    await within(10000, new Promise((resolve) => ok.on('end', resolve)), 'a request on the same session')
    assert.equal(text, 'Hello')
    session.close()

    // A request answered normally: its signal never aborts.
    assert.deepEqual(await (await fetch(`${s.url}/kept`)).json(), { aborted: false })
    assert.equal(await (await fetch(`${s.url}/plaintext`)).text(), 'Hello')
  } finally {
    await s.close()
  }
})
