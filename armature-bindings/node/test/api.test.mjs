// The JS API against a real server with real fetch: routing, requests, responses, middleware,
// inject, errors and registration checks.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { gzipSync } from 'node:zlib'
import fs from 'node:fs'
import net from 'node:net'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { App, Router, HttpResponse, HttpError, Cors, Logger, get, post, put, scope } from '../lib/index.mjs'
import { failure } from './helpers.mjs'

let server
let base
let middlewareCalls = 0
const app = App.new()
  .data({ db: { users: { 7: 'Bob' } } })
  .wrap(async (req, next) => {
    middlewareCalls++
    if (req.header('x-block') === 'yes') return HttpResponse.status(403).json({ blocked: true })
    const res = await next()
    return res.header('x-middleware', 'seen').header('x-seen-request-id', req.id ?? 'none')
  })
  .route('/', get(async () => HttpResponse.ok()))
  .route('/plaintext', get(HttpResponse.text('Hello, World!')))
  .route('/sync', get(() => HttpResponse.text('sync')))
  .route('/string', get(() => 'plain string'))
  .route('/object', get(async () => ({ message: 'object' })))
  .route('/nothing', get(() => undefined))
  .route('/null', get(async () => null))
  .route('/echo', post(async (req) => HttpResponse.json({
    method: req.method,
    path: req.path,
    url: req.url,
    query: req.query,
    contentType: req.header('content-type'),
    headerNames: Object.keys(req.headers).sort(),
    isBuffer: Buffer.isBuffer(req.body),
    length: req.body.length,
    json: req.json(),
    text: req.text()
  })).put(async (req) => HttpResponse.buffer(req.body)))
  .route('/custom', get(() => new HttpResponse('<p>hi</p>', { status: 201, contentType: 'text/html', headers: { 'x-one': '1' } })
    .header('set-cookie', 'a=1').header('set-cookie', 'b=2')))
  .route('/data', get((req) => HttpResponse.json({ name: req.data.db.users[7] })))
  .service(scope('/api/v1')
    .route('/users', get(() => HttpResponse.json([{ id: '1' }])).post(async (req) => HttpResponse.json(req.json(), 201)))
    .route('/users/:id', get((req) => HttpResponse.json({ id: req.param('id'), params: req.params })))
    .route('/whoami/{*rest}', get((req) => ({ ip: req.ip, route: req.route }))))

before(async () => {
  server = await app.run('127.0.0.1:0')
  base = server.url
})
after(() => server.close())

test('an injected answer lists the cookies it sets, as light-my-request\'s res.cookies', async () => {
  const res = await App.new().get('/c', () => HttpResponse.text('ok')
    .header('set-cookie', 'session=a%20b; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=60')
    .header('set-cookie', 'theme=dark; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Domain=example.com; Priority=High')).inject('/c')
  assert.deepEqual(res.cookies, [
    { name: 'session', value: 'a b', path: '/', httpOnly: true, secure: true, sameSite: 'Lax', maxAge: 60 },
    { name: 'theme', value: 'dark', expires: new Date('Wed, 21 Oct 2037 07:28:00 GMT'), domain: 'example.com', priority: 'High' }
  ])
  assert.deepEqual((await App.new().get('/n', () => 'x').inject('/n')).cookies, [])
})

test('listen resolves once bound, with the real port', () => {
  assert.ok(server.port > 0)
  assert.equal(server.host, '127.0.0.1')
})

test('Router: new Router(), router.get with a parameter, listen(port)', async () => {
  const router = new Router()
  router.get('/users/:id', async (req) => HttpResponse.json({ id: req.param('id'), name: 'Alice' }))
  const s = await router.listen(0)
  try {
    const res = await fetch(`${s.url}/users/42`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8')
    assert.deepEqual(await res.json(), { id: '42', name: 'Alice' })
  } finally {
    await s.close()
  }
})

test('sync and async handlers; strings, objects, null and undefined convert', async () => {
  assert.equal(await (await fetch(`${base}/sync`)).text(), 'sync')
  const str = await fetch(`${base}/string`)
  assert.equal(str.headers.get('content-type'), 'text/plain; charset=utf-8')
  assert.equal(await str.text(), 'plain string')
  assert.deepEqual(await (await fetch(`${base}/object`)).json(), { message: 'object' })
  assert.equal((await fetch(`${base}/nothing`)).status, 204)
  // As Fastify: `null` is a JSON value, not nothing.
  const nil = await fetch(`${base}/null`)
  assert.equal(nil.status, 200)
  assert.equal(nil.headers.get('content-type'), 'application/json; charset=utf-8')
  assert.equal(await nil.text(), 'null')
  const ok = await fetch(`${base}/`)
  assert.equal(ok.status, 200)
  assert.equal(await ok.text(), '')
})

test('request fields: method, path, url, query, headers, body Buffer, json(), text()', async () => {
  const res = await fetch(`${base}/echo?x=1&y=two%20words&z=a&z=b&__proto__=p&z=c`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-custom': 'v' },
    body: JSON.stringify({ hello: 'world' })
  })
  assert.equal(res.status, 200)
  const got = await res.json()
  assert.equal(got.method, 'POST')
  assert.equal(got.path, '/echo')
  assert.equal(got.url, '/echo?x=1&y=two%20words&z=a&z=b&__proto__=p&z=c')
  // Repeated keys: every value, in order (Fastify's querystring); `__proto__` is just a key.
  assert.deepEqual(got.query, { x: '1', y: 'two words', z: ['a', 'b', 'c'], ['__proto__']: 'p' })
  assert.equal(got.contentType, 'application/json')
  assert.ok(got.headerNames.includes('x-custom'))
  assert.equal(got.isBuffer, true)
  assert.equal(got.length, 17)
  assert.deepEqual(got.json, { hello: 'world' })
  assert.equal(got.text, '{"hello":"world"}')
})

test('Buffer bodies go both ways byte for byte', async () => {
  const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13])
  const res = await fetch(`${base}/echo`, { method: 'PUT', body: bytes })
  assert.equal(res.headers.get('content-type'), 'application/octet-stream')
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes)
})

test('a Uint8Array body with its own content type arrives byte for byte', async () => {
  const bytes = Uint8Array.from([137, 80, 78, 71, 0, 255])
  const s = await App.new().route('/png', get(() => new HttpResponse(bytes, { contentType: 'image/png' }))).listen(0)
  try {
    const res = await fetch(`${s.url}/png`)
    assert.equal(res.headers.get('content-type'), 'image/png')
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes)
  } finally {
    await s.close()
  }
})

test('status, content type and repeated headers from HttpResponse', async () => {
  const res = await fetch(`${base}/custom`)
  assert.equal(res.status, 201)
  assert.equal(res.headers.get('content-type'), 'text/html')
  assert.equal(res.headers.get('x-one'), '1')
  assert.deepEqual(res.headers.getSetCookie(), ['a=1', 'b=2'])
  assert.equal(await res.text(), '<p>hi</p>')
})

test('scopes, data, path parameters and 404/405 from the Rust router', async () => {
  assert.deepEqual(await (await fetch(`${base}/api/v1/users/caf%C3%A9`)).json(), { id: 'café', params: { id: 'café' } })
  const created = await fetch(`${base}/api/v1/users`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"Eve"}' })
  assert.equal(created.status, 201)
  assert.deepEqual(await created.json(), { name: 'Eve' })
  assert.deepEqual(await (await fetch(`${base}/data`)).json(), { name: 'Bob' })
  assert.equal((await fetch(`${base}/nope`)).status, 404)
  const wrong = await fetch(`${base}/api/v1/users`, { method: 'DELETE' })
  assert.equal(wrong.status, 405)
  assert.equal(wrong.headers.get('allow'), 'GET,HEAD,POST')
  assert.equal(wrong.headers.get('content-type'), 'application/json; charset=utf-8')
  assert.deepEqual(await wrong.json(), failure(405, 'DELETE is not allowed on /api/v1/users'))
  // A path that does not decode: the router's 400, in the same JSON shape.
  for (const [bad, message] of [['%zz', 'invalid percent-encoding in path'], ['%FF', 'path parameter is not valid UTF-8']]) {
    const res = await fetch(`${base}/api/v1/users/${bad}`)
    assert.deepEqual([res.status, res.headers.get('content-type'), await res.json()], [400, 'application/json; charset=utf-8', failure(400, message, 'FST_ERR_BAD_URL')], bad)
  }
})

test('JS middleware runs after the Rust layers, can add headers and short-circuit', async () => {
  const res = await fetch(`${base}/sync`)
  assert.equal(res.headers.get('x-middleware'), 'seen')
  // It saw the id the Rust request-id layer set before it, and the response echoes that id.
  assert.match(res.headers.get('x-seen-request-id'), /^[0-9a-f-]{36}$/)
  assert.equal(res.headers.get('x-seen-request-id'), res.headers.get('x-request-id'))
  const blocked = await fetch(`${base}/sync`, { headers: { 'x-block': 'yes' } })
  assert.equal(blocked.status, 403)
  assert.deepEqual(await blocked.json(), { blocked: true })
})

test('JS middleware sees every request: constant routes and the default 404 too', async () => {
  const beforeCalls = middlewareCalls
  const res = await fetch(`${base}/plaintext`)
  assert.equal(await res.text(), 'Hello, World!')
  assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8')
  assert.equal(res.headers.get('x-middleware'), 'seen')
  // An auth check in middleware guards a constant route as it guards a handler.
  const blocked = await fetch(`${base}/plaintext`, { headers: { 'x-block': 'yes' } })
  assert.equal(blocked.status, 403)
  assert.deepEqual(await blocked.json(), { blocked: true })
  // Fastify's answer, written by JS here (middleware must see it), by Rust without middleware.
  const missing = await fetch(`${base}/nope?page=2`)
  assert.equal(missing.status, 404)
  assert.equal(missing.headers.get('content-type'), 'application/json; charset=utf-8')
  assert.deepEqual(await missing.json(), failure(404, 'Route GET:/nope?page=2 not found'))
  assert.equal(missing.headers.get('x-middleware'), 'seen')
  assert.equal(middlewareCalls, beforeCalls + 3)
  // The middleware's headers went on a copy: the constant itself is unchanged.
  assert.equal((await fetch(`${base}/plaintext`)).headers.get('x-middleware'), 'seen')
})

test('without JS middleware, constant routes and the default 404 answer the same', async () => {
  const plain = App.new()
    .route('/plaintext', get(HttpResponse.text('Hello, World!').header('x-const', '1')))
    .service(scope('/s').route('/c', get(HttpResponse.json({ scoped: true }, 201))))
  const server = await plain.listen(0)
  try {
    const res = await fetch(`${server.url}/plaintext`)
    assert.equal(await res.text(), 'Hello, World!')
    assert.equal(res.headers.get('x-const'), '1')
    const scoped = await fetch(`${server.url}/s/c`)
    assert.equal(scoped.status, 201)
    assert.deepEqual(await scoped.json(), { scoped: true })
    const missing = await fetch(`${server.url}/nope?page=2`, { method: 'POST' })
    assert.equal(missing.status, 404)
    assert.equal(missing.headers.get('content-type'), 'application/json; charset=utf-8')
    assert.deepEqual(await missing.json(), failure(404, 'Route POST:/nope?page=2 not found'))
    // The target is written as JSON text, whatever it holds (`"` and `\\` reach the server raw
    // from a client that sends them so; inject, as light-my-request, percent-encodes them).
    const odd = await new Promise((resolve, reject) => {
      const socket = net.connect(server.port, '127.0.0.1', () => socket.write('GET /say/"hi"\\there HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'))
      let got = ''
      socket.on('data', (d) => { got += d })
      socket.on('end', () => resolve(got))
      socket.on('error', reject)
    })
    assert.match(odd, /^HTTP\/1\.1 404 /)
    assert.deepEqual(JSON.parse(odd.slice(odd.indexOf('\r\n\r\n') + 4)), failure(404, 'Route GET:/say/"hi"\\there not found'))
  } finally {
    await server.close()
  }
  // The same app with middleware wrapped after the routes: the middleware sees them all.
  let seen = 0
  plain.wrap(async (req, next) => { seen++; return (await next()).header('x-mw', 'yes') })
  for (const url of ['/plaintext', '/s/c', '/nope']) {
    const res = await plain.inject(url)
    assert.equal(res.headers['x-mw'], 'yes', url)
  }
  assert.equal(seen, 3)
})

test('inject runs the whole stack without a socket', async () => {
  const res = await app.inject({ method: 'POST', url: '/api/v1/users', body: { name: 'Zed' } })
  assert.equal(res.statusCode, 201)
  assert.deepEqual(res.json(), { name: 'Zed' })
  assert.equal(res.headers['x-middleware'], 'seen')
  assert.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  const notFound = await app.inject('/missing')
  assert.equal(notFound.statusCode, 404)
  // light-my-request's names, and the length a server sends.
  assert.deepEqual([notFound.statusMessage, notFound.payload, notFound.rawPayload.toString()], ['Not Found', notFound.body, notFound.body])
  assert.equal(notFound.headers['content-length'], String(Buffer.byteLength(notFound.body)))
  const withCors = App.new().wrap(Cors.permissive()).route('/', get(() => 'hi'))
  const preflight = await withCors.inject({ method: 'OPTIONS', url: '/', headers: { origin: 'https://a.example', 'access-control-request-method': 'PUT' } })
  assert.equal(preflight.statusCode, 204)
  assert.equal(preflight.headers['access-control-allow-origin'], '*')
  assert.equal(preflight.headers['content-length'], undefined)
})

test("inject takes light-my-request's options: payload, query, path; bytes are sent as bytes", async () => {
  const echo = App.new()
    .post('/echo', (req) => ({ query: req.query, type: req.header('content-type') ?? null, bytes: [...req.body] }))
  const sent = async (options) => (await echo.inject({ method: 'POST', url: '/echo', ...options })).json()
  assert.deepEqual((await sent({ payload: { a: 1 } })).bytes, [...Buffer.from('{"a":1}')])
  assert.equal((await sent({ payload: { a: 1 } })).type, 'application/json; charset=utf-8')
  assert.deepEqual((await sent({ body: new Uint16Array([0x0201]) })).bytes, [1, 2])
  assert.deepEqual((await sent({ body: new Uint8Array([7, 8, 9]).buffer })).bytes, [7, 8, 9])
  assert.deepEqual((await sent({ body: new DataView(new Uint8Array([1, 2, 3]).buffer, 1) })).bytes, [2, 3])
  assert.equal((await sent({ body: new Uint8Array([7]).buffer })).type, null)
  assert.deepEqual((await sent({ query: { page: 2, tag: ['a', 'b'] } })).query, { page: '2', tag: ['a', 'b'] })
  assert.deepEqual((await echo.inject({ method: 'POST', url: '/echo?x=1', query: 'y=2' })).json().query, { x: '1', y: '2' })
  // As light-my-request: a key in `query` replaces that key in the url's query string.
  assert.deepEqual((await echo.inject({ method: 'POST', url: '/echo?page=1&x=1&page=3&a%20b=0', query: { page: 2, 'a b': [5, 6] } })).json().query, { x: '1', page: '2', 'a b': ['5', '6'] })
  assert.deepEqual((await echo.inject({ method: 'POST', url: '/echo?page=1&x=1', query: 'page=2&page=4' })).json().query, { x: '1', page: ['2', '4'] })
  // As Fastify's querystring parser: `+` a space, bad UTF-8 and lone `%` kept as sent.
  const odd = await echo.inject({ method: 'POST', url: '/echo?name=%FF%FE&ok=caf%C3%A9&pct=100%&sp=a+b&flag&=v&&x%2By=1' })
  assert.deepEqual(odd.json().query, { name: '%FF%FE', ok: 'café', pct: '100%', sp: 'a b', flag: '', '': 'v', 'x+y': '1' })
  assert.equal((await echo.inject({ method: 'POST', path: '/echo' })).statusCode, 200)
  await assert.rejects(echo.inject({ url: '/echo', qs: { a: 1 } }), /inject: unknown option "qs"/)
  await assert.rejects(echo.inject({ url: '/echo', body: 'a', payload: 'b' }), /body or payload, not both/)
  await assert.rejects(echo.inject({ url: '/echo', query: 5 }), /query must be an object/)
})

test('new HttpResponse(body) takes every kind of bytes its type allows, in a handler or as a constant', async () => {
  const app = App.new()
    .get('/u16', () => new HttpResponse(new Uint16Array([0x0201]), { contentType: 'application/x-test' }))
    .get('/view', () => new HttpResponse(new DataView(new Uint8Array([5, 6, 7]).buffer, 1)))
    .get('/constant', new HttpResponse(new Uint8Array([1, 2, 3]).buffer))
  const bytes = async (path) => [...(await app.inject(path)).rawBody]
  assert.deepEqual(await bytes('/u16'), [1, 2])
  assert.equal((await app.inject('/u16')).headers['content-type'], 'application/x-test')
  assert.deepEqual(await bytes('/view'), [6, 7])
  assert.deepEqual(await bytes('/constant'), [1, 2, 3])
  assert.throws(() => new HttpResponse({ not: 'bytes' }), /a body must be a string, a Buffer, a typed array or an ArrayBuffer/)
})

test('a handler that throws or rejects gives 500 JSON, and the server keeps serving', async () => {
  const failing = App.new()
    .route('/throw', get(() => { throw new Error('sync boom') }))
    .route('/reject', get(async () => { throw new Error('async boom') }))
    .route('/throw-string', get(() => { throw 'not an Error' })) // eslint-disable-line no-throw-literal
    .route('/bad-json', get(() => { const o = {}; o.self = o; return o }))
    .route('/bad-header', get(() => HttpResponse.text('x').header('bad header', 'v')))
    .route('/bad-status', get(() => HttpResponse.text('x', 1000)))
    .route('/bad-type', get(() => new HttpResponse('x', { contentType: 'text/plain\n' })))
    .route('/ok', get(() => 'still up'))
  const s = await failing.listen(0)
  try {
    for (const path of ['/throw', '/reject', '/throw-string', '/bad-json', '/bad-header', '/bad-status', '/bad-type']) {
      const res = await fetch(`${s.url}${path}`)
      assert.equal(res.status, 500, path)
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8', path)
      assert.deepEqual(await res.json(), failure(500, 'Internal Server Error'), path)
    }
    assert.equal(await (await fetch(`${s.url}/ok`)).text(), 'still up')
  } finally {
    await s.close()
  }
})

test('invalid routes and options throw a clear error at registration', () => {
  const a = App.new().route('/users/:id', get(() => 'x'))
  assert.throws(() => a.route('/users/:name', get(() => 'y')), /invalid route: .*\/users\/:name.*\/users\/:id|invalid route: .*\/users\/:id.*\/users\/:name/)
  assert.throws(() => a.route('/users/:id', get(() => 'again')), /invalid route/)
  assert.throws(() => a.route('/a/{unclosed', get(() => 'x')), /invalid route/)
  assert.throws(() => a.route('no-slash', get(() => 'x')), /invalid route/)
  assert.throws(() => a.route('/x', get('not a function')), TypeError)
  assert.throws(() => a.route('/x', put(() => 'x').on('bad method', () => 'x')), /invalid method/)
  assert.throws(() => a.service(scope('/api/')), /invalid route/)
  assert.throws(() => a.wrap({}), TypeError)
  assert.throws(() => Cors.new({ origins: ['*'], credentials: true }), /Cors\.new/)
  assert.throws(() => Cors.new({}), /origins/)
  assert.ok(Cors.new({ origins: ['https://app.example'], methods: ['GET'], headers: ['x-api-key'], credentials: true }))
  assert.ok(Logger.default() instanceof Logger)
  // The app is still usable after a refused registration.
  a.route('/users/:id/posts', get(() => 'posts'))
})

test('invalid listen/run arguments reject with a clear error; a taken port too', async () => {
  const a = App.new().route('/', get(() => 'x'))
  await assert.rejects(a.listen(70000), /listen: invalid port 70000/)
  await assert.rejects(a.run('nonsense'), /run: expected "host:port"/)
  await assert.rejects(a.listen(0, 'example.com'), /invalid host "example.com"/)
  for (const bad of [-1, 1.5, '100', 2 ** 32]) {
    await assert.rejects(a.listen(0, '127.0.0.1', { shutdownTimeout: bad }), /listen: shutdownTimeout must be a whole number of milliseconds/)
  }
  await assert.rejects(a.listen({ port: 0, backlog: 5 }), (err) => err instanceof TypeError && /listen: unknown option "backlog"/.test(err.message))
  await assert.rejects(a.listen(server.port), (err) => {
    // As net.Server reports it, so `err.code === 'EADDRINUSE'` checks work.
    assert.match(err.message, /in use|address/i)
    assert.equal(err.code, 'EADDRINUSE')
    assert.equal(err.syscall, 'listen')
    assert.ok(err.errno < 0)
    return true
  })
})

test('HttpResponse helpers: ok, text, json, buffer, status, headers', async () => {
  const r = App.new()
    .route('/ok', get(() => HttpResponse.ok('fine')))
    .route('/status', get(() => HttpResponse.status(202).header('x-a', 1).headers([['x-b', '2']])))
    .route('/json418', get(() => HttpResponse.json({ teapot: true }, 418)))
    .route('/text', get(() => HttpResponse.text('t', 201)))
    .route('/bytes', get(() => HttpResponse.buffer(new Uint8Array([1, 2, 3]))))
    .route('/send', get(() => new HttpResponse().send(Buffer.from('raw')).status(203)))
    // As Fastify's reply.send: a content type for what is sent, unless one was set.
    .route('/send-text', get(() => HttpResponse.status(201).send('created')))
    .route('/send-html', get(() => HttpResponse.status(200).header('content-type', 'text/html').send('<p>')))
  const s = await r.listen(0)
  try {
    const ok = await fetch(`${s.url}/ok`)
    assert.equal(ok.status, 200)
    assert.equal(await ok.text(), 'fine')
    const st = await fetch(`${s.url}/status`)
    assert.equal(st.status, 202)
    assert.equal(st.headers.get('x-a'), '1')
    assert.equal(st.headers.get('x-b'), '2')
    const j = await fetch(`${s.url}/json418`)
    assert.equal(j.status, 418)
    assert.equal(j.headers.get('content-type'), 'application/json; charset=utf-8')
    assert.deepEqual(await j.json(), { teapot: true })
    const t = await fetch(`${s.url}/text`)
    assert.equal(t.status, 201)
    assert.equal(await t.text(), 't')
    const b = await fetch(`${s.url}/bytes`)
    assert.equal(b.headers.get('content-type'), 'application/octet-stream')
    assert.deepEqual([...new Uint8Array(await b.arrayBuffer())], [1, 2, 3])
    const raw = await fetch(`${s.url}/send`)
    assert.equal(raw.status, 203)
    assert.equal(raw.headers.get('content-type'), 'application/octet-stream')
    assert.equal(await raw.text(), 'raw')
    const sentText = await fetch(`${s.url}/send-text`)
    assert.deepEqual([sentText.status, sentText.headers.get('content-type'), await sentText.text()], [201, 'text/plain; charset=utf-8', 'created'])
    assert.equal((await fetch(`${s.url}/send-html`)).headers.get('content-type'), 'text/html')
  } finally {
    await s.close()
  }
})

test('req.ip is the client address and req.route the matched template, over a socket and through inject', async () => {
  assert.deepEqual(await (await fetch(`${base}/api/v1/whoami/a/b`)).json(), { ip: '127.0.0.1', route: '/api/v1/whoami/{*rest}' })
  const injected = await app.inject({ url: '/api/v1/whoami/x', remoteAddress: '203.0.113.9' })
  assert.deepEqual(injected.json(), { ip: '203.0.113.9', route: '/api/v1/whoami/{*rest}' })
  const v6 = await app.inject({ url: '/api/v1/whoami/x', remoteAddress: '2001:db8::1' })
  assert.equal(v6.json().ip, '2001:db8::1')
})

test('setNotFoundHandler: a JS handler or a constant for unmatched paths; 405 stays 405', async () => {
  const js = App.new()
    .get('/users/:id', (req) => ({ id: req.param('id') }))
    .setNotFoundHandler((req) => HttpResponse.status(404).json({ missing: req.path, route: req.route ?? null }))
  const s = await js.listen(0)
  try {
    const res = await fetch(`${s.url}/nope/deeper?x=1`)
    assert.equal(res.status, 404)
    assert.deepEqual(await res.json(), { missing: '/nope/deeper', route: null })
    const wrongMethod = await fetch(`${s.url}/users/1`, { method: 'DELETE' })
    assert.equal(wrongMethod.status, 405)
    assert.match(wrongMethod.headers.get('allow'), /GET/)
    assert.deepEqual(await (await fetch(`${s.url}/users/1`)).json(), { id: '1' })
  } finally {
    await s.close()
  }
  const constant = App.new().setNotFoundHandler(HttpResponse.status(404).text('no such page'))
  const res = await constant.inject('/anything')
  assert.equal(res.statusCode, 404)
  assert.equal(res.body, 'no such page')
  assert.throws(() => App.new().setNotFoundHandler('nope'), /a handler must be a function/)
  assert.throws(() => App.new().setNotFoundHandler(HttpResponse.status(42)), /status/)
})

test('a route lacking the method gives way to one that has it, as find-my-way matches', async () => {
  const app = App.new()
    .get('/users/:id', (req) => ({ by: 'id', id: req.param('id'), route: req.route }))
    .post('/users/me', () => ({ by: 'me' }))
    .get('/a/b', () => ({ by: 'static' }))
    .post('/a/:x', (req) => ({ by: 'param', x: req.param('x') }))
    .delete('/{*rest}', (req) => ({ by: 'wildcard', rest: req.param('rest') }))
  const s = await app.listen(0)
  try {
    const call = async (method, path) => (await fetch(`${s.url}${path}`, { method })).json()
    assert.deepEqual(await call('GET', '/users/me'), { by: 'id', id: 'me', route: '/users/{id}' })
    assert.deepEqual(await call('POST', '/users/me'), { by: 'me' })
    assert.deepEqual(await call('GET', '/a/b'), { by: 'static' })
    assert.deepEqual(await call('POST', '/a/b'), { by: 'param', x: 'b' })
    assert.deepEqual(await call('DELETE', '/a/b'), { by: 'wildcard', rest: 'a/b' })
    // No route of the path has the method: a 405 whose Allow lists every route's methods.
    const res = await fetch(`${s.url}/a/b`, { method: 'PUT' })
    assert.equal(res.status, 405)
    assert.equal(res.headers.get('allow'), 'GET,HEAD,POST,DELETE')
    assert.deepEqual(await res.json(), failure(405, 'PUT is not allowed on /a/b'))
  } finally {
    await s.close()
  }
})

test('setErrorHandler: shapes thrown errors, sync or async; undefined or a throw falls back to the default', async () => {
  const seen = []
  const app = App.new()
    .get('/sync', () => { throw new Error('sync boom') })
    .get('/async', async () => { throw Object.assign(new Error('gone'), { statusCode: 410 }) })
    .get('/pass', () => { throw Object.assign(new Error('teapot'), { statusCode: 418 }) })
    .get('/rethrow', () => { throw new Error('original') })
    .setErrorHandler(async (err, req) => {
      seen.push(`${req.method} ${req.route}`)
      if (req.path === '/pass') return undefined
      if (req.path === '/rethrow') throw Object.assign(new Error('from the handler'), { statusCode: 409 })
      return HttpResponse.status(err.statusCode ?? 500).json({ problem: err.message, path: req.path })
    })
  const sync = await app.inject('/sync')
  assert.equal(sync.statusCode, 500)
  assert.deepEqual(sync.json(), { problem: 'sync boom', path: '/sync' })
  const gone = await app.inject('/async')
  assert.equal(gone.statusCode, 410)
  assert.deepEqual(gone.json(), { problem: 'gone', path: '/async' })
  const passed = await app.inject('/pass')
  assert.deepEqual([passed.statusCode, passed.json()], [418, failure(418, 'teapot')])
  const rethrown = await app.inject('/rethrow')
  assert.deepEqual([rethrown.statusCode, rethrown.json()], [409, failure(409, 'from the handler')])
  assert.deepEqual(seen, ['GET /sync', 'GET /async', 'GET /pass', 'GET /rethrow'])
  assert.throws(() => App.new().setErrorHandler({}), /pass a function/)
})

test('setErrorHandler: a plain value keeps the error\'s status, a returned Error is answered as thrown, with or without middleware (Fastify)', async () => {
  for (const withMiddleware of [false, true]) {
    const app = App.new()
      .get('/object', () => { throw new HttpError(404, 'no such user') })
      .get('/text', () => { throw Object.assign(new Error('busy'), { statusCode: 503 }) })
      .get('/plain', () => { throw new Error('no status') })
      .get('/same', () => { throw Object.assign(new HttpError(401, 'who are you'), { headers: { 'www-authenticate': 'Bearer' } }) })
      .setErrorHandler((err, req) => {
        if (req.path === '/object') return { missing: err.message }
        if (req.path === '/text') return `retry later: ${err.message}`
        if (req.path === '/plain') return { oops: true }
        return err // as thrown: the default answer for it
      })
    if (withMiddleware) app.wrap(async (req, next) => (await next()).header('x-mw', 'yes'))
    const object = await app.inject('/object')
    assert.deepEqual([object.statusCode, object.json()], [404, { missing: 'no such user' }], `${withMiddleware}`)
    const text = await app.inject('/text')
    assert.deepEqual([text.statusCode, text.body], [503, 'retry later: busy'])
    const plain = await app.inject('/plain')
    assert.deepEqual([plain.statusCode, plain.json()], [500, { oops: true }])
    const same = await app.inject('/same')
    assert.deepEqual([same.statusCode, same.json(), same.headers['www-authenticate']], [401, failure(401, 'who are you'), 'Bearer'])
    if (withMiddleware) assert.equal(same.headers['x-mw'], 'yes')
  }
})

test('an Error returned by a handler with a response schema is answered as thrown, not written by the schema', async () => {
  const app = App.new()
    .get('/user/:id', { schema: { response: { 200: { type: 'object', properties: { name: { type: 'string' } } } } } },
      (req) => req.param('id') === '1' ? { name: 'Ann', password: 'x' } : new HttpError(404, 'no such user'))
  const found = await app.inject('/user/1')
  assert.deepEqual([found.statusCode, found.json()], [200, { name: 'Ann' }])
  const missing = await app.inject('/user/2')
  assert.deepEqual([missing.statusCode, missing.json()], [404, failure(404, 'no such user')])
})

test('an error\'s headers that cannot be sent are left out; the answer keeps its status', async () => {
  const app = App.new()
    .get('/client', () => { throw Object.assign(new HttpError(429, 'slow down'), { headers: { 'retry-after': '5', 'bad name': 'x', 'x-bad-value': 'a\r\nset-cookie: evil=1' } }) })
    .get('/server', () => { throw Object.assign(new HttpError(503, 'down'), { headers: { 'retry-after': '7', 'bad name': 'x' } }) })
  const client = await app.inject('/client')
  assert.deepEqual([client.statusCode, client.json(), client.headers['retry-after']], [429, failure(429, 'slow down'), '5'])
  assert.equal(client.headers['set-cookie'], undefined)
  assert.equal(client.headers['x-bad-value'], undefined)
  const server = await app.inject('/server')
  assert.deepEqual([server.statusCode, server.headers['retry-after']], [503, '7'])
})

test('setErrorHandler sees an answer that cannot be sent, with or without middleware', async () => {
  const circular = {}
  circular.self = circular
  for (const withMiddleware of [false, true]) {
    const seen = []
    const app = App.new()
      .get('/circular', () => circular)
      .get('/bigint', async () => ({ n: 1n }))
      .get('/bad-again', () => circular)
      .setErrorHandler((err, req) => {
        seen.push(`${req.path} ${err.constructor.name}`)
        // An answer the handler cannot send either falls back to the default 500.
        if (req.path === '/bad-again') return { n: 2n }
        return HttpResponse.status(500).json({ problem: 'unserializable' })
      })
    if (withMiddleware) app.wrap(async (req, next) => next())
    for (const path of ['/circular', '/bigint']) {
      const res = await app.inject(path)
      assert.deepEqual([res.statusCode, res.json()], [500, { problem: 'unserializable' }], `${path} ${withMiddleware}`)
    }
    const again = await app.inject('/bad-again')
    assert.deepEqual([again.statusCode, again.json()], [500, failure(500, 'Internal Server Error')])
    assert.deepEqual(seen, ['/circular TypeError', '/bigint TypeError', '/bad-again TypeError'])
  }
})

test('req.cookies: pairs by name, decoded, first wins; HTTP/2 cookie fields are joined with "; "', async () => {
  const { connect } = await import('node:http2')
  const s = await App.new()
    .get('/c', (req) => ({ cookies: req.cookies, header: req.header('cookie') ?? null, all: req.headers.cookie ?? null }))
    .listen(0)
  try {
    const h1 = await fetch(`${s.url}/c`, { headers: { cookie: 'a=1; b="two words"; c=%E2%9C%93; a=dup; bad; =x; d=%zz; __proto__=p' } })
    assert.deepEqual(await h1.json(), {
      cookies: { a: '1', b: 'two words', c: '✓', d: '%zz', ['__proto__']: 'p' },
      header: 'a=1; b="two words"; c=%E2%9C%93; a=dup; bad; =x; d=%zz; __proto__=p',
      all: 'a=1; b="two words"; c=%E2%9C%93; a=dup; bad; =x; d=%zz; __proto__=p'
    })
    assert.deepEqual(await (await fetch(`${s.url}/c`)).json(), { cookies: {}, header: null, all: null })

    // Browsers over HTTP/2 send each cookie in a field of its own.
    const client = connect(s.url)
    try {
      const body = await new Promise((resolve, reject) => {
        const stream = client.request({ ':path': '/c', cookie: ['a=1', 'b=2'] })
        let data = ''
        stream.setEncoding('utf8')
        stream.on('data', (chunk) => { data += chunk })
        stream.on('end', () => resolve(JSON.parse(data)))
        stream.on('error', reject)
      })
      assert.deepEqual(body, { cookies: { a: '1', b: '2' }, header: 'a=1; b=2', all: 'a=1; b=2' })
    } finally {
      client.close()
    }
  } finally {
    await s.close()
  }
})

test('a web Response or Blob is sent as it says: status, headers, separate cookies, body, content type', async () => {
  // An upstream sending gzip: `fetch` decodes the body, so its Content-Encoding and
  // Content-Length must not be sent on with the decoded bytes.
  const upstream = await App.new()
    .get('/up', () => new HttpResponse(gzipSync('from upstream'), { contentType: 'text/plain', headers: { 'content-encoding': 'gzip', 'x-up': '1' } }))
    .listen(0)
  const app = App.new()
    .get('/created', () => new Response('hello', {
      status: 201,
      headers: [['content-type', 'text/html'], ['set-cookie', 'a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT'], ['set-cookie', 'b=2'], ['x-one', '1']]
    }))
    .get('/json', async () => Response.json({ ok: true }, { status: 202 }))
    .get('/empty', () => new Response(null, { status: 204, headers: { 'x-empty': 'yes' } }))
    .get('/blob', () => new Blob(['<svg/>'], { type: 'image/svg+xml' }))
    .get('/bytes', () => new Blob([new Uint8Array([1, 2, 3])]))
    .get('/proxy', () => fetch(`${upstream.url}/up`))
    .get('/used', async () => { const res = new Response('x'); await res.text(); return res })
    .get('/schema', { schema: { response: { 200: { type: 'object', properties: { a: { type: 'string' } } } } } }, () => new Response('raw'))
    .setNotFoundHandler(() => new Response('not here', { status: 404 }))
  const s = await app.listen(0)
  try {
    const created = await fetch(`${s.url}/created`)
    assert.equal(created.status, 201)
    assert.equal(created.headers.get('content-type'), 'text/html')
    assert.equal(created.headers.get('x-one'), '1')
    assert.deepEqual(created.headers.getSetCookie(), ['a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT', 'b=2'])
    assert.equal(await created.text(), 'hello')
    const json = await fetch(`${s.url}/json`)
    assert.equal(json.status, 202)
    assert.equal(json.headers.get('content-type'), 'application/json')
    assert.deepEqual(await json.json(), { ok: true })
    const empty = await fetch(`${s.url}/empty`)
    assert.equal(empty.status, 204)
    assert.equal(empty.headers.get('x-empty'), 'yes')
    const blob = await fetch(`${s.url}/blob`)
    assert.equal(blob.headers.get('content-type'), 'image/svg+xml')
    assert.equal(await blob.text(), '<svg/>')
    const bytes = await fetch(`${s.url}/bytes`)
    assert.equal(bytes.headers.get('content-type'), 'application/octet-stream')
    assert.deepEqual([...new Uint8Array(await bytes.arrayBuffer())], [1, 2, 3])
    const proxied = await fetch(`${s.url}/proxy`, { headers: { 'accept-encoding': 'identity' } })
    assert.equal(proxied.status, 200)
    assert.equal(proxied.headers.get('content-encoding'), null)
    assert.equal(proxied.headers.get('x-up'), '1')
    assert.equal(proxied.headers.get('content-type'), 'text/plain')
    assert.equal(await proxied.text(), 'from upstream')
    // A body that cannot be read is the handler's error.
    assert.equal((await fetch(`${s.url}/used`)).status, 500)
    assert.equal(await (await fetch(`${s.url}/schema`)).text(), 'raw')
    const missing = await fetch(`${s.url}/nope`)
    assert.equal(missing.status, 404)
    assert.equal(await missing.text(), 'not here')
  } finally {
    await s.close()
    await upstream.close()
  }
  // Middleware gets it as an HttpResponse it can change; an error handler may answer with one.
  const wrapped = App.new()
    .wrap(async (req, next) => {
      const res = await next()
      assert.ok(res instanceof HttpResponse)
      return res.header('x-mw', 'yes')
    })
    .get('/', () => new Response('hi', { status: 203, headers: { 'content-type': 'text/plain' } }))
    .get('/fails', () => { throw new Error('x') })
    .setErrorHandler(() => new Response('handled', { status: 418 }))
  const res = await wrapped.inject('/')
  assert.deepEqual([res.statusCode, res.headers['content-type'], res.headers['x-mw'], res.body], [203, 'text/plain', 'yes', 'hi'])
  const handled = await wrapped.inject('/fails')
  assert.deepEqual([handled.statusCode, handled.body], [418, 'handled'])
})

test('header() replaces a header of the same name, as Fastify\'s reply.header, except set-cookie; getHeader/hasHeader/removeHeader', async () => {
  const res = HttpResponse.text('x').header('Cache-Control', 'public, max-age=60').header('x-a', ['1', '2'])
  res.header('cache-control', 'no-store').header('set-cookie', 'a=1').header('Set-Cookie', 'b=2')
  assert.equal(res.getHeader('CACHE-CONTROL'), 'no-store')
  assert.deepEqual(res.getHeader('x-a'), ['1', '2'])
  assert.deepEqual(res.getHeader('set-cookie'), ['a=1', 'b=2'])
  assert.equal(res.getHeader('content-type'), 'text/plain; charset=utf-8')
  assert.equal(res.hasHeader('x-none'), false)
  assert.equal(res.removeHeader('X-A').hasHeader('x-a'), false)
  // Middleware that sets a header the handler set wins, rather than sending both.
  const app = App.new()
    .wrap(async (req, next) => (await next()).header('cache-control', 'no-store').header('x-frame-options', 'DENY'))
    .get('/', () => HttpResponse.text('x').header('cache-control', 'public, max-age=60').header('X-Frame-Options', 'SAMEORIGIN'))
  const s = await app.listen(0)
  try {
    const got = await fetch(s.url)
    assert.equal(got.headers.get('cache-control'), 'no-store')
    assert.equal(got.headers.get('x-frame-options'), 'DENY')
  } finally {
    await s.close()
  }
})

test('middleware after `await next()` runs for error answers too: thrown statuses, 500s, schema 400s, the error handler\'s', async () => {
  let handled = 0
  const app = App.new()
    .wrap(async (req, next) => (await next()).header('x-frame-options', 'DENY'))
    .get('/missing', () => { throw Object.assign(new Error('no such user'), { statusCode: 404, headers: { 'x-why': 'gone' } }) })
    .get('/crash', async () => { throw new Error('kaboom') })
    .get('/typed', { schema: { querystring: { type: 'object', properties: { n: { type: 'integer' } } } } }, (req) => 'ok')
    .get('/teapot', () => { throw Object.assign(new Error('short and stout'), { statusCode: 418 }) })
  const missing = await app.inject('/missing')
  assert.deepEqual([missing.statusCode, JSON.parse(missing.body), missing.headers['x-why'], missing.headers['x-frame-options']], [404, failure(404, 'no such user'), 'gone', 'DENY'])
  const crash = await app.inject('/crash')
  assert.deepEqual([crash.statusCode, crash.headers['x-frame-options']], [500, 'DENY'])
  assert.doesNotMatch(crash.body, /kaboom/)
  const typed = await app.inject('/typed?n=abc')
  assert.deepEqual([typed.statusCode, typed.headers['x-frame-options']], [400, 'DENY'])
  // The error handler answers inside `next()`, once.
  app.setErrorHandler((err) => { handled++; return HttpResponse.json({ mine: err.message }, 422) })
  const teapot = await app.inject('/teapot')
  assert.deepEqual([teapot.statusCode, JSON.parse(teapot.body), teapot.headers['x-frame-options'], handled], [422, { mine: 'short and stout' }, 'DENY', 1])
})

test('an Error returned rather than thrown is answered as thrown, with or without middleware', async () => {
  const routes = (app) => app
    .get('/gone', async () => new HttpError(404, 'no such user'))
    .get('/broken', () => new Error('kaboom'))
  for (const app of [routes(App.new()), routes(App.new().wrap(async (req, next) => (await next()).header('x-seen', '1')))]) {
    const gone = await app.inject('/gone')
    assert.deepEqual([gone.statusCode, gone.json()], [404, failure(404, 'no such user')])
    const broken = await app.inject('/broken')
    assert.equal(broken.statusCode, 500)
    assert.doesNotMatch(broken.body, /kaboom/)
  }
  const handled = App.new().get('/broken', () => new Error('kaboom')).setErrorHandler((err) => HttpResponse.json({ caught: err.message }, 502))
  assert.deepEqual((await handled.inject('/broken')).json(), { caught: 'kaboom' })
})

test('inject answers as a server does: no body for 204, 304 or HEAD; cookies sent as one header', async () => {
  const app = App.new()
    .get('/empty', () => HttpResponse.status(204))
    .get('/cached', () => new HttpResponse('stale', { status: 304 }))
    .get('/page', () => 'hello')
    .get('/cookies', (req) => req.cookies)
  assert.deepEqual([(await app.inject('/empty')).body, (await app.inject('/cached')).body], ['', ''])
  const head = await app.inject({ method: 'HEAD', url: '/page' })
  assert.deepEqual([head.statusCode, head.body, head.rawPayload.length, head.headers['content-length']], [200, '', 0, '5'])
  const res = await app.inject({ url: '/cookies', cookies: { session: 'abc', theme: 'dark' } })
  assert.deepEqual(res.json(), { session: 'abc', theme: 'dark' })
  await assert.rejects(app.inject({ url: '/cookies', cookies: 'session=abc' }), /cookies must be an object/)
})


test('inject reads its url as light-my-request does: percent-encoded as a client sends it, relative or absolute', async () => {
  const app = App.new().get('/p/:id', (req) => ({ id: req.params.id, query: req.query, url: req.url, host: req.headers.host }))
  const sent = async (url) => (await app.inject(url)).json()
  assert.deepEqual(await sent('/p/a b?q=x y'), { id: 'a b', query: { q: 'x y' }, url: '/p/a%20b?q=x%20y', host: 'localhost:80' })
  assert.deepEqual(await sent('/p/José?q="<é>"'), { id: 'José', query: { q: '"<é>"' }, url: '/p/Jos%C3%A9?q=%22%3C%C3%A9%3E%22', host: 'localhost:80' })
  assert.deepEqual(await sent('p/rel'), { id: 'rel', query: {}, url: '/p/rel', host: 'localhost:80' })
  assert.deepEqual(await sent('http://example.com:8080/p/abs?x=1#top'), { id: 'abs', query: { x: '1' }, url: '/p/abs?x=1', host: 'example.com:8080' })
  assert.deepEqual(await sent({ url: '//p/x' }), failure(404, 'Route GET://p/x not found'))
  assert.equal((await sent({ url: 'http://example.com/p/x', headers: { Host: 'given' } })).host, 'given')
  // As sent: what is already percent-encoded, and what does not decode.
  assert.deepEqual(await sent('/p/a%2Fb?q=%FF&r=100%'), { id: 'a/b', query: { q: '%FF', r: '100%' }, url: '/p/a%2Fb?q=%FF&r=100%', host: 'localhost:80' })
})

test("inject sends the headers a client sends, as light-my-request: Host, User-Agent, Content-Length; an array value repeats its header", async () => {
  const app = App.new()
    .post('/h', (req) => ({ headers: req.headers, cookies: req.cookies }))
  const sent = async (options) => (await app.inject({ method: 'POST', url: '/h', ...options })).json()
  const json = await sent({ payload: { a: 1 } })
  assert.equal(json.headers.host, 'localhost:80')
  assert.equal(json.headers['user-agent'], 'lightMyRequest')
  assert.equal(json.headers['content-length'], '7')
  assert.equal((await sent({ body: Buffer.from('xy') })).headers['content-length'], '2')
  assert.equal((await sent({})).headers['content-length'], undefined)
  // The client's own win, in any case.
  const own = await sent({ body: 'abc', headers: { Host: 'example.com', 'User-Agent': 'me', 'x-n': 5 } })
  assert.deepEqual([own.headers.host, own.headers['user-agent'], own.headers['x-n']], ['example.com', 'me', '5'])
  // One header per value: two cookies are two cookies, other fields are joined with ", ".
  const many = await sent({ headers: { cookie: ['a=1', 'b=2'], 'x-tag': ['x', 'y'] } })
  assert.deepEqual(many.cookies, { a: '1', b: '2' })
  assert.equal(many.headers['x-tag'], 'x, y')
})
test('Fastify route options: @fastify/swagger\'s schema keys are accepted, config reaches req.routeOptions', async () => {
  const app = App.new()
    .get('/users/:id', {
      schema: { tags: ['users'], summary: 'A user', description: 'By id', operationId: 'getUser', deprecated: false, security: [{ bearer: [] }], params: { type: 'object', properties: { id: { type: 'integer' } } } },
      config: { rateClass: 'gold' }
    }, (req) => ({ id: req.params.id, options: req.routeOptions }))
    .get('/plain', (req) => req.routeOptions.config)
    .wrap(async (req, next) => (await next()).header('x-rate-class', String(req.routeOptions.config.rateClass ?? 'none')))
  const res = await app.inject('/users/7')
  assert.deepEqual(res.json(), { id: 7, options: { method: 'GET', url: '/users/{id}', config: { rateClass: 'gold' } } })
  // Middleware sees the config too (as Fastify's hooks see routeOptions.config).
  assert.equal(res.headers['x-rate-class'], 'gold')
  assert.equal((await app.inject('/users/x')).statusCode, 400)
  const plain = await app.inject('/plain')
  assert.deepEqual([plain.json(), plain.headers['x-rate-class']], [{}, 'none'])
  assert.throws(() => App.new().get('/c', { config: 'gold' }, () => 'x'), /config must be an object/)
  assert.throws(() => App.new().get('/c', { schema: { bodyy: {} } }, () => 'x'), /unknown schema part "bodyy"/)
  // The declaration form takes `config` too (Fastify's route({ ..., config })).
  const declared = App.new().route({ method: 'GET', url: '/d', config: { rateClass: 'silver' }, handler: (req) => req.routeOptions.config })
  assert.deepEqual((await declared.inject('/d')).json(), { rateClass: 'silver' })
  // A constant response keeps its config for middleware, and is still the constant.
  const ok = HttpResponse.text('ok')
  const constant = App.new()
    .get('/c', { config: { rateClass: 'bronze' } }, ok)
    .get('/s', { config: { rateClass: 'iron' }, schema: { querystring: { type: 'object' } } }, ok)
    .wrap(async (req, next) => (await next()).header('x-rate-class', String(req.routeOptions.config.rateClass ?? 'none')))
  for (const [url, rateClass] of [['/c', 'bronze'], ['/s', 'iron']]) {
    const res = await constant.inject(url)
    assert.deepEqual([res.statusCode, res.body, res.headers['x-rate-class']], [200, 'ok', rateClass], url)
  }
  // Without middleware it is answered in Rust, as any constant.
  const bare = await App.new().get('/c', { config: { rateClass: 'bronze' } }, ok).inject('/c')
  assert.deepEqual([bare.statusCode, bare.body], [200, 'ok'])
})

test('a constant response with its right Content-Length is accepted, a wrong one refused, at registration', async () => {
  const right = App.new().get('/c', HttpResponse.text('hello').header('content-length', '5'))
  const res = await right.inject('/c')
  assert.deepEqual([res.statusCode, res.body, res.headers['content-length']], [200, 'hello', '5'])
  assert.throws(() => App.new().get('/c', HttpResponse.text('hello').header('content-length', '0')), /content-length|Content-Length/)
})

test('on a route with a body schema, req.body is the validated value (Fastify\'s); rawBody the bytes', async () => {
  const app = App.new()
    .post('/users', { schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, age: { type: 'integer', default: 18 } } } } },
      (req) => ({ name: req.body.name, age: req.body.age, same: req.body === req.json(), raw: req.rawBody.toString() }))
    .post('/raw', (req) => ({ isBuffer: Buffer.isBuffer(req.body), length: req.body.length }))
  const res = await app.inject({ method: 'POST', url: '/users', body: { name: 'Ann' } })
  assert.deepEqual(res.json(), { name: 'Ann', age: 18, same: true, raw: '{"name":"Ann"}' })
  assert.equal((await app.inject({ method: 'POST', url: '/users', body: {} })).statusCode, 400)
  assert.deepEqual((await app.inject({ method: 'POST', url: '/raw', body: 'abc' })).json(), { isBuffer: true, length: 3 })
})

test('app.static serves a directory under a prefix, as @fastify/static', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'armature-static-'))
  fs.mkdirSync(path.join(root, 'css'))
  fs.writeFileSync(path.join(root, 'css', 'site.css'), 'body { color: red }')
  fs.mkdirSync(path.join(root, 'docs'))
  fs.writeFileSync(path.join(root, 'docs', 'index.html'), '<h1>docs</h1>')
  fs.writeFileSync(path.join(path.dirname(root), 'armature-secret.txt'), 'not for you')
  fs.symlinkSync(path.join(path.dirname(root), 'armature-secret.txt'), path.join(root, 'link.txt'))
  const app = App.new().static('/public', root).get('/public-info', () => ({ route: true }))
  const s = await app.listen(0)
  try {
    const res = await fetch(`${s.url}/public/css/site.css`)
    assert.deepEqual([res.status, res.headers.get('content-type'), await res.text()], [200, 'text/css', 'body { color: red }'])
    const again = await fetch(`${s.url}/public/css/site.css`, { headers: { 'if-modified-since': res.headers.get('last-modified') } })
    assert.equal(again.status, 304)
    const part = await fetch(`${s.url}/public/css/site.css`, { headers: { range: 'bytes=0-3' } })
    assert.deepEqual([part.status, await part.text()], [206, 'body'])
    assert.equal(await (await fetch(`${s.url}/public/docs/`)).text(), '<h1>docs</h1>')
    const redirect = await fetch(`${s.url}/public/docs`, { redirect: 'manual' })
    assert.deepEqual([Math.floor(redirect.status / 100), redirect.headers.get('location')], [3, '/public/docs/'])
    // The prefix itself too, so an index page's relative links resolve under it.
    const bare = await fetch(`${s.url}/public?v=1`, { redirect: 'manual' })
    assert.deepEqual([bare.status, bare.headers.get('location')], [307, '/public/?v=1'])
    // Missing, or through a symbolic link that leads out of the directory: the package's 404.
    for (const missing of ['/public/nope.css', '/public/link.txt']) {
      const res = await fetch(`${s.url}${missing}`)
      assert.deepEqual([res.status, await res.json()], [404, failure(404, 'Not Found')], missing)
    }
    // Out of the directory: fetch resolves the dots, so no file is asked for and no route matches.
    const out = await fetch(`${s.url}/public/%2e%2e/armature-secret.txt`)
    assert.deepEqual([out.status, await out.json()], [404, failure(404, 'Route GET:/armature-secret.txt not found')])
    assert.deepEqual(await (await fetch(`${s.url}/public-info`)).json(), { route: true })
    // Files are read, not written: the package's JSON 405, with Allow.
    const post = await fetch(`${s.url}/public/css/site.css`, { method: 'POST', body: 'x' })
    assert.deepEqual([post.status, post.headers.get('content-type'), await post.json()], [405, 'application/json; charset=utf-8', failure(405, 'Method Not Allowed')])
    assert.match(post.headers.get('allow') ?? '', /GET/)
  } finally {
    await s.close()
  }
  assert.throws(() => App.new().static('/x', path.join(root, 'missing')), /not a directory/)
  assert.throws(() => App.new().static('x', root), /invalid route/)
  assert.throws(() => App.new().get('/public/{*rest}', () => 'x').static('/public', root), /invalid route/)
  assert.throws(() => App.new().static('/public', root, { indx: true }), /unknown option "indx"/)
})

test('scope middleware runs for that scope\'s routes only, inside the app\'s, as hooks in a Fastify plugin', async () => {
  const order = []
  const admin = scope('/admin')
    .wrap(async (req, next) => {
      order.push('admin')
      if (req.header('x-token') !== 'secret') return HttpResponse.json({ error: 'Unauthorized' }, 401)
      return (await next()).header('x-admin', '1')
    })
    .route('/stats', get(() => ({ users: 3 })))
    .route('/constant', get(HttpResponse.text('fixed')))
    .service(scope('/deep').wrap(async (req, next) => { order.push('deep'); return next() }).route('/x', get(() => 'deep x')))
  const app = App.new()
    .wrap(async (req, next) => { order.push('app'); return (await next()).header('x-app', '1') })
    .get('/public', () => 'hello')
    .service(admin)
  assert.equal((await app.inject('/public')).body, 'hello')
  assert.deepEqual(order.splice(0), ['app'])
  const denied = await app.inject('/admin/stats')
  assert.deepEqual([denied.statusCode, denied.headers['x-app'], order.splice(0)], [401, '1', ['app', 'admin']])
  const stats = await app.inject({ url: '/admin/stats', headers: { 'x-token': 'secret' } })
  assert.deepEqual([stats.json(), stats.headers['x-admin'], stats.headers['x-app']], [{ users: 3 }, '1', '1'])
  order.splice(0)
  // A constant route in a scope with middleware is answered through it too.
  assert.equal((await app.inject('/admin/constant')).statusCode, 401)
  order.splice(0)
  // A scope mounted in a scope: the outer scope's middleware, then the inner one's.
  const deep = await app.inject({ url: '/admin/deep/x', headers: { 'x-token': 'secret' } })
  assert.deepEqual([deep.body, order.splice(0)], ['deep x', ['app', 'admin', 'deep']])
  assert.throws(() => scope('/x').wrap(Logger.default()), /Logger, Cors and RateLimit wrap the app/)
  // Without app middleware, only the scope's routes go through JS middleware.
  const plain = App.new().get('/c', HttpResponse.text('c')).service(scope('/s').wrap(async (req, next) => (await next()).header('x-s', '1')).route('/y', get(() => 'y')))
  assert.equal((await plain.inject('/s/y')).headers['x-s'], '1')
  assert.equal((await plain.inject('/c')).headers['x-s'], undefined)
})

test('register(plugin, { prefix }) mounts a plugin\'s routes and middleware, as Fastify\'s plugins', async () => {
  const seen = []
  // A route plugin as Fastify apps write them: async, registering another without awaiting.
  async function users (scope, options) {
    scope.wrap(async (req, next) => { seen.push(`users:${req.path}`); return next() })
    scope.get('/', () => ({ users: options.names }))
    scope.get('/:id', (req) => ({ id: req.params.id }))
    scope.register(async (inner) => {
      await new Promise((resolve) => setImmediate(resolve))
      inner.get('/avatar', () => 'png')
    }, { prefix: '/:id/files' })
  }
  const app = App.new()
    .register(users, { prefix: '/users', names: ['ann', 'bo'] })
    .register((scope) => { scope.get('/health', () => 'ok') })
  assert.deepEqual((await app.inject('/users')).json(), { users: ['ann', 'bo'] })
  assert.deepEqual((await app.inject('/users/7')).json(), { id: '7' })
  assert.equal((await app.inject('/users/7/files/avatar')).body, 'png')
  // A plugin without a prefix: its routes as they are; its middleware only for them.
  assert.equal((await app.inject('/health')).body, 'ok')
  assert.deepEqual(seen, ['users:/users', 'users:/users/7', 'users:/users/7/files/avatar'])
  assert.equal(await app.ready(), app)
  // A plugin that fails: the app does not start.
  // Its error is not an unhandled rejection meanwhile (node --test would fail on one).
  const broken = App.new().register(async (scope) => { scope.get('/x', () => 'x'); throw new Error('no database') })
  await new Promise((resolve) => setTimeout(resolve, 10))
  await assert.rejects(broken.inject('/x'), /no database/)
  // Then every time after, not only the first.
  await assert.rejects(broken.ready(), /no database/)
  await assert.rejects(broken.inject('/x'), /no database/)
  await assert.rejects(broken.listen(0), /no database/)
  assert.throws(() => App.new().register('routes'), /plugin must be a function/)
})

test('a default 5xx answer keeps its body (and is logged) through several middleware', async () => {
  const app = App.new()
    .wrap(async (req, next) => (await next()).header('x-outer', '1'))
    .wrap(async (req, next) => next())
    .get('/crash', async () => { throw new Error('db down') })
    .get('/busy', () => { throw Object.assign(new Error('try later'), { statusCode: 503 }) })
  const one = App.new().wrap(async (req, next) => next()).get('/crash', async () => { throw new Error('db down') })
  const expected = (await one.inject('/crash')).body
  assert.match(expected, /Internal Server Error/)
  const crash = await app.inject('/crash')
  assert.deepEqual([crash.statusCode, crash.body, crash.headers['x-outer']], [500, expected, '1'])
  const busy = await app.inject('/busy')
  assert.equal(busy.statusCode, 503)
  assert.match(busy.body, /Service Unavailable/)
})

test('a scope\'s `/` answers its prefix with and without the trailing slash, as Fastify\'s prefixes', async () => {
  const app = App.new().service(scope('/api').route('/', get(() => 'root')).route('/x', get(() => 'x')))
  assert.equal((await app.inject('/api')).body, 'root')
  assert.equal((await app.inject('/api/')).body, 'root')
  assert.equal((await app.inject('/api/x')).body, 'x')
  assert.equal((await app.inject('/api/x/')).statusCode, 404)
  // The slash form is a route of its own, as in Fastify: declaring it again is a conflict.
  assert.throws(() => app.get('/api/', () => 'again'), /invalid route/)
})

test('params and headers keep their order: the pattern\'s, and the request\'s', async () => {
  const app = App.new().get('/:org/:repo/:branch', (req) => ({ params: Object.keys(req.params), headers: Object.keys(req.headers).filter((h) => h.startsWith('x-') && h !== 'x-request-id') }))
  const res = await app.inject({ url: '/a/b/c', headers: { 'x-zeta': '1', 'x-alpha': '2', 'x-mid': '3' } })
  assert.deepEqual(res.json(), { params: ['org', 'repo', 'branch'], headers: ['x-zeta', 'x-alpha', 'x-mid'] })
})

test('header(name, array) adds one header per value; inject gives repeated set-cookie as an array', async () => {
  const app = App.new()
    .get('/', () => HttpResponse.text('hi').header('set-cookie', ['a=1', 'b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT']).header('x-many', ['1', '2']))
    .get('/one', () => HttpResponse.text('hi').headers({ 'set-cookie': ['only=1'], vary: ['origin', 'accept'] }))
    .get('/constant', new HttpResponse('c', { headers: { 'set-cookie': ['c=1', 'd=2'] } }))
  const s = await app.listen(0)
  try {
    const res = await fetch(s.url)
    assert.deepEqual(res.headers.getSetCookie(), ['a=1', 'b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT'])
    assert.equal(res.headers.get('x-many'), '1, 2')
    assert.deepEqual((await fetch(`${s.url}/constant`)).headers.getSetCookie(), ['c=1', 'd=2'])
  } finally {
    await s.close()
  }
  // As light-my-request: set-cookie values apart (an array when repeated), other headers joined.
  const injected = await app.inject('/')
  assert.deepEqual(injected.headers['set-cookie'], ['a=1', 'b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT'])
  assert.equal(injected.headers['x-many'], '1, 2')
  const one = await app.inject('/one')
  assert.equal(one.headers['set-cookie'], 'only=1')
  assert.equal(one.headers.vary, 'origin, accept')
  assert.deepEqual((await app.inject('/constant')).headers['set-cookie'], ['c=1', 'd=2'])
})

/** Sends `raw` (bytes) on one connection and resolves with every byte the server sent before closing. */
function rawExchange (port, raw) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(raw))
    const chunks = []
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('end', () => resolve(Buffer.concat(chunks)))
    socket.on('error', reject)
  })
}

/** The bytes of a header field's value in a raw HTTP/1.1 answer (its first line of that name), or null. */
function fieldBytes (answer, name) {
  // Latin-1 maps each byte to one character and back.
  const head = answer.subarray(0, answer.indexOf('\r\n\r\n')).toString('latin1')
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name}:`))
  return line === undefined ? null : Buffer.from(line.slice(name.length + 1).trim(), 'latin1')
}

test('header values are Latin-1 as in Node\'s http: é is sent as the byte 0xE9, read back from obs-text, and a character above U+00FF throws naming the header', async () => {
  // A request whose x-in value holds the obs-text byte 0xE9, as a client sending Latin-1 does.
  const request = Buffer.concat([Buffer.from('GET /h HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-in: caf'), Buffer.from([0xe9]), Buffer.from('\r\n\r\n')])
  const cafe = Buffer.from([0x63, 0x61, 0x66, 0xe9])
  // What Node's own http does with the same exchange: the reference. (Its head goes out as
  // Latin-1, except when Node writes it in one piece with a first body chunk that is a string:
  // then in that string's encoding, UTF-8, a known inconsistency, nodejs/node#1693. A Buffer
  // body shows its own encoding.)
  const node = http.createServer((req, res) => {
    const body = Buffer.from(JSON.stringify(req.headers['x-in']))
    res.writeHead(200, { 'x-out': 'café', 'content-length': body.length })
    res.end(body)
  })
  await new Promise((resolve) => node.listen(0, '127.0.0.1', resolve))
  let reference
  try {
    reference = await rawExchange(node.address().port, request)
  } finally {
    await new Promise((resolve) => node.close(resolve))
  }
  assert.deepEqual(fieldBytes(reference, 'x-out'), cafe)
  assert.equal(reference.subarray(reference.indexOf('\r\n\r\n') + 4).toString('utf8'), '"café"')

  const seen = []
  const app = App.new()
    .get('/h', (req) => {
      seen.push([req.header('x-in'), req.headers['x-in']])
      return HttpResponse.text(JSON.stringify(req.header('x-in'))).header('x-out', 'café').header('content-type', 'text/plain; note=naïve')
    })
    .get('/constant', HttpResponse.text('c').header('x-out', 'café'))
    .get('/error', () => { throw Object.assign(new HttpError(401, 'who?'), { headers: { 'www-authenticate': 'Basic realm="café"', 'x-snow': 'snow\u2603' } }) })
    .get('/snow', () => HttpResponse.text('never').header('x-snow', 'snow\u2603'))
    .setErrorHandler((err, req) => {
      if (req.path === '/snow') return HttpResponse.status(500).json({ name: err.name, code: err.code, message: err.message })
    })
  const s = await app.listen(0)
  try {
    const { url, port } = s
    const answer = await rawExchange(port, request)
    // Before, é went out as UTF-8 (C3 A9) and the request's 0xE9 read as U+FFFD.
    assert.deepEqual(fieldBytes(answer, 'x-out'), cafe)
    assert.deepEqual(fieldBytes(answer, 'content-type'), Buffer.from('text/plain; note=na\xefve', 'latin1'))
    assert.equal(answer.subarray(answer.indexOf('\r\n\r\n') + 4).toString('utf8'), '"café"')
    assert.deepEqual(seen, [['café', 'café']])
    const constant = await rawExchange(port, Buffer.from('GET /constant HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'))
    assert.deepEqual(fieldBytes(constant, 'x-out'), cafe)
    // An error's headers: the Latin-1 one sent as such, the one above U+00FF left out.
    const error = await rawExchange(port, Buffer.from('GET /error HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'))
    assert.match(error.toString('latin1'), /^HTTP\/1\.1 401 /)
    assert.deepEqual(fieldBytes(error, 'www-authenticate'), Buffer.from('Basic realm="caf\xe9"', 'latin1'))
    assert.equal(fieldBytes(error, 'x-snow'), null)
    // A character above U+00FF throws where it is set, as res.setHeader throws in Node.
    const snow = await fetch(`${url}/snow`)
    assert.deepEqual([snow.status, await snow.json()],
      [500, { name: 'TypeError', code: 'ERR_INVALID_CHAR', message: 'Invalid character in header content ["x-snow"]' }])
  } finally {
    await s.close()
  }
  assert.throws(() => HttpResponse.text('x').header('x-snow', 'snow\u2603'), { name: 'TypeError', code: 'ERR_INVALID_CHAR', message: 'Invalid character in header content ["x-snow"]' })
  assert.throws(() => HttpResponse.text('x').header('content-type', 'text/\u2603'), { code: 'ERR_INVALID_CHAR' })
  assert.throws(() => new HttpResponse('x', { headers: { 'x-a': ['ok', 'bad\u0100'] } }), { code: 'ERR_INVALID_CHAR' })
  // inject reads and sends them as light-my-request does over Node's http: as the strings set.
  const injected = await app.inject({ url: '/h', headers: { 'x-in': 'café' } })
  assert.equal(injected.headers['x-out'], 'café')
  assert.equal(injected.body, '"café"')
})
