// The preset layers (Rust) seen from JS over a real socket: CORS, request id, access log.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { App, HttpResponse, Cors, get } from '../lib/index.mjs'
import { failure, startChild, within } from './helpers.mjs'

test('CORS headers and preflights come from the Rust layer', async () => {
  const app = App.new()
    .wrap(Cors.new({ origins: ['https://app.example'], methods: ['GET', 'PUT'], exposeHeaders: ['x-request-id'], maxAge: 600 }))
    .route('/items', get(() => HttpResponse.json([])))
  const s = await app.listen(0)
  try {
    const res = await fetch(`${s.url}/items`, { headers: { origin: 'https://app.example' } })
    assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example')
    assert.equal(res.headers.get('access-control-expose-headers'), 'x-request-id')
    assert.equal(res.headers.get('vary'), 'origin')
    const other = await fetch(`${s.url}/items`, { headers: { origin: 'https://evil.example' } })
    assert.equal(other.headers.get('access-control-allow-origin'), null)
    const preflight = await fetch(`${s.url}/items`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' }
    })
    assert.equal(preflight.status, 204)
    assert.equal(preflight.headers.get('access-control-allow-methods'), 'GET, PUT')
    assert.equal(preflight.headers.get('access-control-max-age'), '600')
  } finally {
    await s.close()
  }
})

test('every response carries a fresh x-request-id the handler can read', async () => {
  const app = App.new().route('/id', get((req) => HttpResponse.text(req.id)))
  const s = await app.listen(0)
  try {
    const a = await fetch(`${s.url}/id`)
    const b = await fetch(`${s.url}/id`, { headers: { 'x-request-id': 'client-chosen' } })
    const idA = a.headers.get('x-request-id')
    assert.match(idA, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    assert.equal(await a.text(), idA)
    // Incoming ids are not trusted by the preset: a new one replaces it.
    assert.notEqual(b.headers.get('x-request-id'), 'client-chosen')
    assert.notEqual(b.headers.get('x-request-id'), idA)
    // Answers Rust gives itself (404) carry one too.
    assert.match((await fetch(`${s.url}/missing`)).headers.get('x-request-id'), /^[0-9a-f-]{36}$/)
  } finally {
    await s.close()
  }
})

test('CORS with credentials: Fastify\'s default methods and echoed headers, errors in the JS options\' names', async () => {
  // Browsers read `*` literally with credentials; messages name the JS option, not a Rust method.
  const refused = (options) => assert.throws(() => Cors.new(options), (err) => {
    assert.doesNotMatch(err.message, /allow_|mirror_|_credentials/)
    return true
  })
  assert.throws(() => Cors.new({ origins: ['*'], credentials: true, headers: ['content-type'] }), /`origins: \['\*'\]` cannot be combined with `credentials: true`/)
  assert.throws(() => Cors.new({ origins: ['https://app.example', '*'] }), /`\*` in `origins`/)
  assert.throws(() => Cors.new({ origins: ['https://app.example'], methods: ['*'] }), /`\*` in `methods`: leave `methods` out/)
  refused({ origins: ['*'], credentials: true, headers: ['content-type'] })
  refused({ origins: ['https://app.example'], headers: ['*'] })

  // Without `methods`, a credentialed policy allows @fastify/cors' default methods.
  const app = App.new()
    .wrap(Cors.new({ origins: ['https://app.example'], headers: ['content-type'], credentials: true }))
    .route('/items', get(() => HttpResponse.json([])))
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/items',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'content-type' }
  })
  assert.equal(preflight.statusCode, 204)
  assert.equal(preflight.headers['access-control-allow-methods'], 'GET, HEAD, PUT, PATCH, POST, DELETE')
  assert.equal(preflight.headers['access-control-allow-headers'], 'content-type')
  assert.equal(preflight.headers['access-control-allow-credentials'], 'true')
  assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example')
  const res = await app.inject({ url: '/items', headers: { origin: 'https://app.example', cookie: 'sid=1' } })
  assert.equal(res.headers['access-control-allow-credentials'], 'true')
  // Without `headers`, the ones a preflight asks for are echoed, as @fastify/cors does.
  const echoing = App.new().wrap(Cors.new({ origins: ['https://app.example'], credentials: true })).route('/items', get(() => 'x'))
  const asked = await echoing.inject({
    method: 'OPTIONS',
    url: '/items',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-token, content-type' }
  })
  assert.deepEqual([asked.statusCode, asked.headers['access-control-allow-headers'], asked.headers['access-control-allow-origin']], [204, 'x-token, content-type', 'https://app.example'])
  const stranger = await echoing.inject({ method: 'OPTIONS', url: '/items', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-token' } })
  assert.equal(stranger.headers['access-control-allow-origin'], undefined)
})

test('App.new({ logger: true }) logs JSON access lines, as Fastify\'s logger option', async () => {
  const { child, out, exited, port } = startChild('logger-option')
  const p = await within(10000, port, 'child listening')
  await (await fetch(`http://127.0.0.1:${p}/users/7`)).text()
  child.kill('SIGTERM')
  const { code } = await within(10000, exited, 'child exit')
  assert.equal(code, 0, out.stderr)
  const access = out.stderr.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line)).filter((line) => 'route' in line)
  assert.deepEqual(access.map((line) => [line.method, line.route, line.status]), [['GET', '/users/{id}', 200]], out.stderr)
  assert.throws(() => App.new({ logger: 'info' }), /logger is true or false/)
})

test('Logger.json() writes one JSON object a line, nothing before it; handler errors too', async () => {
  const { child, out, exited, port } = startChild('logger-json')
  const p = await within(10000, port, 'child listening')
  const res = await fetch(`http://127.0.0.1:${p}/users/42`)
  const rid = res.headers.get('x-request-id')
  await res.text()
  const boom = await fetch(`http://127.0.0.1:${p}/boom`)
  assert.equal(boom.status, 500)
  child.kill('SIGTERM')
  const { code } = await within(10000, exited, 'child exit')
  assert.equal(code, 0, out.stderr)
  // Every line of stderr parses whole, the handler error's (a multi-line stack) included.
  const lines = out.stderr.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line))
  const access = lines.filter((line) => 'route' in line)
  assert.equal(access.length, 2, out.stderr)
  const errors = lines.filter((line) => line.level === 'ERROR')
  assert.equal(errors.length, 1, out.stderr)
  assert.equal(lines.length, 3, out.stderr)
  assert.match(errors[0].time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  assert.deepEqual(
    { target: errors[0].target, request_id: errors[0].request_id, method: errors[0].method, path: errors[0].path, status: errors[0].status },
    { target: 'armature::node', request_id: boom.headers.get('x-request-id'), method: 'GET', path: '/boom', status: 500 })
  assert.match(errors[0].message, /^handler failed: Error: kaboom from the handler\n {4}at /)
  assert.deepEqual(
    { method: access[0].method, route: access[0].route, status: access[0].status, request_id: access[0].request_id, outcome: access[0].outcome },
    { method: 'GET', route: '/users/{id}', status: 200, request_id: rid, outcome: 'ok' })
  assert.match(access[0].peer, /^127\.0\.0\.1:\d+$/)
  assert.equal(access[1].status, 500)
})

test('under Logger.json() the server\'s own warnings are JSON lines too; shutdownTimeout cuts a stuck request off', async () => {
  const { child, out, exited, port } = startChild('logger-json-deadline')
  const p = await within(10000, port, 'child listening')
  const stuck = fetch(`http://127.0.0.1:${p}/gate`).then((res) => res.text()).then(() => 'answered', () => 'cut off')
  await within(10000, new Promise((resolve) => {
    const check = () => out.stdout.includes('gate entered') ? resolve() : setTimeout(check, 10)
    check()
  }), 'the request in its handler')
  child.kill('SIGTERM')
  const { code } = await within(10000, exited, 'child exit')
  assert.equal(code, 0, out.stderr)
  assert.equal(await stuck, 'cut off')
  // Every line parses whole: the server's warning included, with its fields.
  const lines = out.stderr.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line))
  const warning = lines.find((line) => line.level === 'WARN')
  assert.ok(warning, out.stderr)
  assert.equal(warning.target, 'armature_server::drain')
  assert.match(warning.message, /^shutdown deadline passed/)
  assert.ok(warning.remaining >= 1, out.stderr)
  assert.match(warning.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
})

test('a rejection with undefined answers a 500 that is logged, as any other failure, with or without middleware', async () => {
  for (const mode of ['logger-json', 'logger-json-wrapped']) {
    const { child, out, exited, port } = startChild(mode)
    const p = await within(10000, port, 'child listening')
    const res = await fetch(`http://127.0.0.1:${p}/reject-undefined`)
    assert.equal(res.status, 500, mode)
    assert.deepEqual(await res.json(), failure(500, 'Internal Server Error'), mode)
    child.kill('SIGTERM')
    const { code } = await within(10000, exited, 'child exit')
    assert.equal(code, 0, out.stderr)
    const errors = out.stderr.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line)).filter((line) => line.level === 'ERROR')
    assert.deepEqual(errors.map((e) => [e.path, e.status, e.message]), [['/reject-undefined', 500, 'handler failed: undefined']], `${mode}: ${out.stderr}`)
  }
})

test('a handler that fails after its client went away is logged all the same', async () => {
  const { child, out, exited, port } = startChild('logger-json')
  // A failed wait must not leave the child running (it would keep the test process alive).
  try {
    await lateFailure(child, out, exited, await within(10000, port, 'child listening'))
  } finally {
    child.kill('SIGKILL')
  }
})

async function lateFailure (child, out, exited, p) {
  const socket = net.connect(p, '127.0.0.1')
  socket.on('error', () => {})
  socket.write('GET /late-failure HTTP/1.1\r\nHost: x\r\n\r\n')
  const until = (what, done) => within(10000, new Promise((resolve) => {
    const check = () => done() ? resolve() : setTimeout(check, 10)
    check()
  }), what)
  await until('the request in its handler', () => out.stdout.includes('late entered'))
  socket.destroy()
  await until('the failure logged', () => out.stderr.includes('failed after the client left'))
  child.kill('SIGTERM')
  const { code } = await within(10000, exited, 'child exit')
  assert.equal(code, 0, out.stderr)
  const errors = out.stderr.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line)).filter((line) => line.level === 'ERROR')
  assert.deepEqual(errors.map((e) => [e.method, e.path, e.status]), [['GET', '/late-failure', 500]], out.stderr)
  assert.match(errors[0].message, /^handler failed: Error: failed after the client left\n {4}at /)
}

test('Logger.default() writes one access line per request (route template, status, id); handler errors are logged', async () => {
  const { child, out, exited, port } = startChild('logger')
  const p = await within(10000, port, 'child listening')
  const res = await fetch(`http://127.0.0.1:${p}/users/42`)
  const rid = res.headers.get('x-request-id')
  assert.deepEqual(await res.json(), { id: '42', name: 'Alice' })
  assert.equal((await fetch(`http://127.0.0.1:${p}/boom`)).status, 500)
  // The process stays up after the handler threw.
  assert.equal((await fetch(`http://127.0.0.1:${p}/users/1`)).status, 200)
  child.kill('SIGTERM')
  const { code } = await within(10000, exited, 'child exit')
  assert.equal(code, 0, out.stderr)
  assert.match(out.stderr, new RegExp(`armature::access: GET /users/\\{id\\} 200 [0-9.]+ms 26B rid=${rid} peer=127\\.0\\.0\\.1:\\d+`))
  assert.match(out.stderr, /armature::access: GET \/boom 500/)
  assert.match(out.stderr, /ERROR armature::node: handler failed: Error: kaboom from the handler/)
})
