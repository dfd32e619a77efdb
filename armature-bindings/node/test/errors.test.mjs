// Bad handler output, bad request bodies and late configuration: each gets a clear answer or a
// thrown error, and nothing hangs, crashes the process or desynchronises a connection.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import v8 from 'node:v8'
import vm from 'node:vm'
import { Readable } from 'node:stream'
import { STATUS_CODES } from 'node:http'
import { App, Router, HttpError, HttpResponse, Cors, RateLimit, Logger, all, get, head, post, scope } from '../lib/index.mjs'
import { failure, serving } from './helpers.mjs'

/** Writes `raw` on one connection and reads until the server closes it or `until` matches. */
function exchange (port, raw, until) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let got = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no full answer; got ${JSON.stringify(got)}`)) }, 5000)
    socket.on('data', (d) => {
      got += d
      if (until.test(got)) { clearTimeout(timer); socket.end(); resolve(got) }
    })
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.write(raw)
  })
}

test('a value whose then throws, or whose fields throw when read, answers 500 and holds up no other request', async () => {
  const app = App.new()
    .get('/then-throws', () => ({ then () { throw new Error('then threw') } }))
    .get('/proxy', () => new Proxy({}, { get () { throw new Error('no reading me') } }))
    .get('/ok/:n', (req) => `ok ${req.param('n')}`)
  await serving(app, async (url) => {
    // Fired together, so they share the dispatcher's batches.
    const paths = ['/ok/1', '/then-throws', '/ok/2', '/proxy', '/ok/3']
    const answers = await Promise.all(paths.map((p) => fetch(url + p)))
    assert.deepEqual(answers.map((r) => r.status), [200, 500, 200, 500, 200])
    assert.equal(await answers[4].text(), 'ok 3')
  })
})

test('an error that cannot be printed answers 500, thrown or rejected, and the process lives on', async () => {
  const unprintable = () => {
    const err = new Error('x')
    Object.defineProperty(err, 'stack', { get () { throw new Error('no stack') } })
    Object.defineProperty(err, 'message', { get () { throw new Error('no message') } })
    return err
  }
  const hostile = new Proxy({}, { getPrototypeOf () { throw new Error('trap') }, get () { throw new Error('trap') } })
  const app = App.new()
    .get('/sync', () => { throw unprintable() })
    .get('/async', async () => { throw unprintable() })
    .get('/proxy', async () => { throw hostile })
    .get('/ok', () => 'still up')
  await serving(app, async (url) => {
    for (const path of ['/sync', '/async', '/proxy']) {
      const res = await fetch(url + path)
      assert.equal(res.status, 500, path)
      assert.deepEqual(await res.json(), failure(500, 'Internal Server Error'), path)
    }
    assert.equal(await (await fetch(`${url}/ok`)).text(), 'still up')
  })
})

test('a Content-Length that is not the body length answers 500; the right one is sent once', async () => {
  const app = App.new()
    .get('/short', () => HttpResponse.text('0123456789').header('content-length', '3'))
    .get('/long', () => HttpResponse.text('0123456789').header('Content-Length', '99'))
    .get('/right', () => HttpResponse.text('0123456789').header('content-length', '10'))
    .get('/next', () => 'next')
  const s = await app.listen(0)
  try {
    for (const path of ['/short', '/long']) assert.equal((await fetch(s.url + path)).status, 500, path)
    // Pipelined on one connection: the second answer must start where the first one ends.
    const raw = 'GET /short HTTP/1.1\r\nHost: x\r\n\r\nGET /right HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n'
    const got = await exchange(s.port, raw, /\r\n\r\nnext$/)
    const answers = got.split(/(?=HTTP\/1\.1 )/)
    assert.equal(answers.length, 3, got)
    assert.match(answers[0], /^HTTP\/1\.1 500 /)
    assert.match(answers[1], /^HTTP\/1\.1 200 /)
    assert.equal(answers[1].match(/content-length/gi).length, 1, answers[1])
    assert.match(answers[1], /content-length: 10\r\n[\s\S]*\r\n\r\n0123456789$/)
    assert.match(answers[2], /^HTTP\/1\.1 200 [\s\S]*\r\n\r\nnext$/)
  } finally {
    await s.close()
  }
  // A constant response is checked when it is registered.
  assert.throws(() => App.new().get('/c', HttpResponse.text('abc').header('content-length', '4')), /content-length/)
})

test('Content-Type set as a header replaces the content type: one header, not two', async () => {
  const app = App.new()
    .get('/problem', () => HttpResponse.json({ title: 'x' }, 400).header('Content-Type', 'application/problem+json'))
    .get('/html', () => HttpResponse.text('<p>hi</p>').headers({ 'content-type': 'text/html' }))
    .get('/init', () => new HttpResponse('x', { contentType: 'text/plain', headers: { 'CONTENT-TYPE': 'text/csv' } }))
  await serving(app, async (url) => {
    for (const [path, type] of [['/problem', 'application/problem+json'], ['/html', 'text/html'], ['/init', 'text/csv']]) {
      const res = await fetch(url + path)
      // fetch joins repeated headers with ", ".
      assert.equal(res.headers.get('content-type'), type, path)
    }
  })
})

test('statuses that are not whole final codes answer 500', async () => {
  const app = App.new()
    .get('/:code', (req) => HttpResponse.status(Number(req.param('code'))))
  await serving(app, async (url) => {
    for (const code of [2 ** 32 + 201, 200.5, 100, 101, 99, 1000]) {
      const res = await fetch(`${url}/${code}`)
      assert.equal(res.status, 500, String(code))
    }
    assert.equal((await fetch(`${url}/201`)).status, 201)
  })
  // A string of a number is that number, as Fastify's `reply.code('201')`; any other, a 500.
  const strings = App.new().get('/:code', (req) => HttpResponse.status(req.param('code')).send('x'))
  await serving(strings, async (url) => {
    assert.equal((await fetch(`${url}/201`)).status, 201)
    assert.equal((await fetch(`${url}/abc`)).status, 500)
  })
  assert.equal(new HttpResponse('x', { status: '202' }).statusCode, 202)
  // A constant response is checked when it is registered.
  for (const code of [2 ** 32 + 201, 200.5, 101]) {
    assert.throws(() => App.new().get('/c', HttpResponse.status(code)), /invalid status/, String(code))
  }
})

test('req.json(): 415 for a body said to be something else, 400 for malformed JSON; HttpError and statusCode answer their status', async () => {
  const app = App.new()
    .post('/echo', (req) => ({ got: req.json() }))
    .get('/missing', () => { throw new HttpError(404, 'no such user') })
    .get('/gone', () => { throw new HttpError(410) })
    .get('/blank', () => { throw new HttpError(400, '') })
    .get('/unnamed', () => { throw new HttpError(499) })
    .get('/bare', () => { throw { statusCode: 404 } }) // eslint-disable-line no-throw-literal
    .get('/fastify-style', () => { throw Object.assign(new Error('slow down'), { statusCode: 429 }) })
    .get('/unavailable', async () => { throw Object.assign(new Error('db down'), { status: 503 }) })
  await serving(app, async (url) => {
    const post = (body, type) => fetch(`${url}/echo`, { method: 'POST', body, headers: type ? { 'content-type': type } : {} })
    // With Fastify's codes for the same refusals.
    const expectError = async (res, status, pattern, code) => {
      assert.equal(res.status, status)
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8')
      const body = await res.json()
      assert.deepEqual([body.statusCode, body.error, body.code], [status, STATUS_CODES[status], code])
      assert.match(body.message, pattern)
    }
    await expectError(await post('{"a":', 'application/json'), 400, /^malformed JSON body/, 'FST_ERR_CTP_INVALID_JSON_BODY')
    await expectError(await post('', 'application/json'), 400, /^malformed JSON body/, 'FST_ERR_CTP_EMPTY_JSON_BODY')
    await expectError(await post('{"a":1}', 'application/xml'), 415, /expected a JSON body/, 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    await expectError(await post('a=1', 'application/x-www-form-urlencoded'), 415, /expected a JSON body/, 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    // Prototype keys are refused, as Fastify does by default; a plain `constructor` key is data.
    await expectError(await post('{"__proto__":{"admin":true}}', 'application/json'), 400, /forbidden prototype property/, 'FST_ERR_CTP_INVALID_JSON_BODY')
    await expectError(await post('{"a":{"constructor":{"prototype":{"admin":true}}}}', 'application/json'), 400, /forbidden prototype property/, 'FST_ERR_CTP_INVALID_JSON_BODY')
    assert.deepEqual(await (await post('{"constructor":"x"}', 'application/json')).json(), { got: { constructor: 'x' } })
    // JSON's own types only: not the text/plain fetch sends with a string body (a cross-site
    // form can send it without a CORS preflight), as Fastify.
    for (const type of ['application/json; charset=utf-8', 'application/vnd.api+json']) {
      const res = await post('{"a":1}', type)
      assert.equal(res.status, 200, String(type))
      assert.deepEqual(await res.json(), { got: { a: 1 } })
    }
    await expectError(await post('{"a":1}', undefined), 415, /got Content-Type: text\/plain/, 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    await expectError(await post('{"a":1}', 'text/plain'), 415, /expected a JSON body/, 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    await expectError(await fetch(`${url}/missing`), 404, /^no such user$/)
    // Without a message: the reason phrase (http-errors'); an empty one is sent as it is.
    await expectError(await fetch(`${url}/gone`), 410, /^Gone$/)
    await expectError(await fetch(`${url}/blank`), 400, /^$/)
    await expectError(await fetch(`${url}/bare`), 404, /^Not Found$/)
    const unnamed = await fetch(`${url}/unnamed`)
    assert.deepEqual([unnamed.status, (await unnamed.json()).message], [499, '499'])
    await expectError(await fetch(`${url}/fastify-style`), 429, /^slow down$/)
    // A server error keeps its status but not its message (that is logged).
    const down = await fetch(`${url}/unavailable`)
    assert.equal(down.status, 503)
    assert.deepEqual(await down.json(), failure(503, 'Service Unavailable'))
  })
  assert.throws(() => new HttpError(302, 'x'), RangeError)
})

test('a server error keeps its code and its status\'s reason phrase, and middleware sees the body the client gets', async () => {
  const seen = []
  for (const withMiddleware of [false, true]) {
    let app = App.new()
    if (withMiddleware) {
      app = app.wrap(async (req, next) => {
        const res = await next()
        seen.push([res.statusCode, res.payload === undefined ? null : JSON.parse(String(res.payload))])
        return res
      })
    }
    app = app
      .get('/down', () => { throw Object.assign(new Error('db password is hunter2'), { statusCode: 503, code: 'E_DOWN' }) })
      .get('/bandwidth', () => { throw new HttpError(509, 'secret detail') })
    const down = await app.inject('/down')
    assert.deepEqual([down.statusCode, down.json()], [503, failure(503, 'Service Unavailable', 'E_DOWN')], String(withMiddleware))
    const bandwidth = await app.inject('/bandwidth')
    assert.deepEqual([bandwidth.statusCode, bandwidth.json()], [509, failure(509, 'Bandwidth Limit Exceeded')], String(withMiddleware))
    assert.ok(!down.body.includes('hunter2') && !bandwidth.body.includes('secret'))
  }
  assert.deepEqual(seen, [[503, failure(503, 'Service Unavailable', 'E_DOWN')], [509, failure(509, 'Bandwidth Limit Exceeded')]])
})

test('a refused body (413) passes through the preset layers like any other answer', async () => {
  // A small limit and a body the socket buffers take whole: the server answers 413 and closes
  // without reading it, and a body still being written then would fail the fetch itself.
  const app = App.new({ bodyLimit: 1024 })
    .wrap(Logger.default())
    .wrap(Cors.permissive())
    .wrap(RateLimit.perMinute(2))
    .post('/upload', (req) => `got ${req.body.length}`)
  await serving(app, async (url) => {
    const big = Buffer.alloc(16 * 1024, 1)
    const send = () => fetch(`${url}/upload`, { method: 'POST', body: big, headers: { origin: 'https://a.example' } })
    const first = await send()
    assert.equal(first.status, 413)
    assert.deepEqual(await first.json(), failure(413, 'Request body is too large', 'FST_ERR_CTP_BODY_TOO_LARGE'))
    assert.ok(first.headers.get('x-request-id'), 'request id')
    assert.equal(first.headers.get('access-control-allow-origin'), '*')
    assert.ok(first.headers.get('ratelimit'), 'rate-limit headers')
    assert.equal((await send()).status, 413)
    // Both refusals counted toward the quota of 2.
    const third = await send()
    assert.equal(third.status, 429)
    assert.ok(third.headers.get('retry-after'))
  })
  // inject applies the same limit.
  const res = await App.new().post('/upload', (req) => `got ${req.body.length}`)
    .inject({ method: 'POST', url: '/upload', body: Buffer.alloc(1024 * 1024 + 1) })
  assert.deepEqual([res.statusCode, res.json()], [413, failure(413, 'Request body is too large', 'FST_ERR_CTP_BODY_TOO_LARGE')])
})

test('a refused body reaches the error handler and middleware as Fastify\'s error: 413 FST_ERR_CTP_BODY_TOO_LARGE, 400 unreadable', async () => {
  const seen = []
  const app = App.new({ bodyLimit: 10 })
    .wrap(async (req, next) => (await next()).header('x-mw', 'saw it'))
    .post('/upload', (req) => `got ${req.body.length}`)
    .setErrorHandler((err, req) => {
      seen.push([err.statusCode, err.code, err.message, req.method, req.path])
      return HttpResponse.status(err.statusCode).json({ problem: err.code ?? 'unreadable' })
    })
  await serving(app, async (url) => {
    const big = await fetch(`${url}/upload`, { method: 'POST', body: 'x'.repeat(64) })
    assert.deepEqual([big.status, big.headers.get('x-mw'), await big.json()], [413, 'saw it', { problem: 'FST_ERR_CTP_BODY_TOO_LARGE' }])
    assert.ok(big.headers.get('x-request-id'), 'the preset layers still run')
    const small = await fetch(`${url}/upload`, { method: 'POST', body: 'x'.repeat(5) })
    assert.deepEqual([small.status, await small.text()], [200, 'got 5'])
    // A body cut short (the client stops sending and half-closes): 400, through the handler.
    const { port } = new URL(url)
    const answer = await new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => {
        socket.end('POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 8\r\n\r\nabc')
      })
      let text = ''
      socket.on('data', (chunk) => { text += chunk })
      socket.on('end', () => resolve(text))
      socket.on('error', reject)
    })
    assert.match(answer, /^HTTP\/1\.1 400 /)
    assert.match(answer, /x-mw: saw it/)
    assert.match(answer, /\{"problem":"unreadable"\}/)
  })
  assert.deepEqual(seen, [
    [413, 'FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large', 'POST', '/upload'],
    [400, undefined, 'The request body could not be read', 'POST', '/upload']
  ])
  // Without middleware or an error handler, Rust answers (see above); the same shape via JS.
  const plain = await App.new({ bodyLimit: 10 }).post('/upload', () => 'ok')
    .wrap(async (req, next) => next())
    .inject({ method: 'POST', url: '/upload', body: 'x'.repeat(64) })
  assert.deepEqual([plain.statusCode, plain.json()], [413, failure(413, 'Request body is too large', 'FST_ERR_CTP_BODY_TOO_LARGE')])
})

test('a method declared twice on a path throws, ALL counting as every method (Fastify\'s FST_ERR_DUPLICATED_ROUTE)', async () => {
  // Fastify's message, code and status (its FST_ERR_DUPLICATED_ROUTE).
  const dup = (method, path) => (err) => {
    assert.equal(err.message, `invalid route: Method '${method}' already declared for route '${path}'`)
    assert.deepEqual([err.code, err.statusCode], ['FST_ERR_DUPLICATED_ROUTE', 500])
    return true
  }
  // ALL first, then a method: before, GET /x silently went to the GET route (the specific one
  // won, whatever the order); as in Fastify, the second registration throws.
  const app = App.new().all('/x', (req) => `all ${req.method}`)
  assert.throws(() => app.get('/x', () => 'get'), dup('GET', '/x'))
  assert.throws(() => app.head('/x', () => 'head'), dup('HEAD', '/x'))
  assert.throws(() => app.route({ method: ['DELETE'], url: '/x', handler: () => 'del' }), dup('DELETE', '/x'))
  assert.throws(() => app.all('/x', () => 'again'), dup('ALL', '/x'))
  // A method first, then ALL; and both in one route(path, methods).
  app.post('/y', () => 'post')
  assert.throws(() => app.all('/y', () => 'all'), dup('POST', '/y'))
  assert.throws(() => app.route('/z', all(() => 'all').get(() => 'get')), dup('GET', '/z'))
  assert.throws(() => app.route('/z', get(() => 'get').all(() => 'all')), dup('GET', '/z'))
  // Through a plugin's prefix: its '/' is the prefix's path.
  app.get('/api', () => 'api')
  assert.throws(() => app.register((s) => { s.all('/', () => 'plugin') }, { prefix: '/api' }), dup('GET', '/api'))
  // The same method twice, as before, in the same words.
  assert.throws(() => app.post('/y', () => 'again'), dup('POST', '/y'))
  // Methods side by side are fine, HEAD beside GET too (GET answers HEAD unless it has its own).
  app.route('/w', get(() => 'get').post(() => 'post')).route('/w', head(() => HttpResponse.status(204)))
  // The refused registrations left nothing behind: every method of /x is still ALL's.
  await serving(app, async (url) => {
    for (const method of ['GET', 'DELETE', 'PUT']) {
      const res = await fetch(`${url}/x`, { method })
      assert.deepEqual([res.status, await res.text()], [200, `all ${method}`])
    }
    const res = await fetch(`${url}/y`, { method: 'PUT' })
    assert.equal(res.status, 405)
    assert.equal(res.headers.get('allow'), 'POST')
    assert.equal(await (await fetch(`${url}/api`)).text(), 'api')
    assert.equal(await (await fetch(`${url}/w`, { method: 'POST' })).text(), 'post')
    assert.equal((await fetch(`${url}/w`, { method: 'HEAD' })).status, 204)
  })
})

test('with an error handler, a 405 reaches it as an error with statusCode 405; Allow stays on a 405 answer', async () => {
  const seen = []
  const app = App.new()
    .route('/users/:id', get((req) => ({ id: req.param('id') })).put(() => 'put'))
    .setErrorHandler((err, req) => {
      seen.push([err instanceof Error, err.statusCode, err.message, req.method, req.url])
      // Fastify answers an unknown method with its not-found 404: an app can do the same.
      if (req.header('x-fastify') !== undefined) return HttpResponse.status(404).json({ missing: req.path })
      return HttpResponse.status(err.statusCode).json({ problem: err.message })
    })
  await serving(app, async (url) => {
    const res = await fetch(`${url}/users/1?x=1`, { method: 'DELETE' })
    // Before, Rust answered the 405 and the error handler never saw it.
    assert.deepEqual([res.status, res.headers.get('allow'), await res.json()],
      [405, 'GET,HEAD,PUT', { problem: 'DELETE is not allowed on /users/1?x=1' }])
    const notFound = await fetch(`${url}/users/1`, { method: 'POST', headers: { 'x-fastify': '1' } })
    // `Allow` belongs to a 405, not to the 404 answered instead.
    assert.deepEqual([notFound.status, notFound.headers.get('allow'), await notFound.json()], [404, null, { missing: '/users/1' }])
    assert.equal((await fetch(`${url}/users/1`, { method: 'PUT' })).status, 200)
  })
  assert.deepEqual(seen, [
    [true, 405, 'DELETE is not allowed on /users/1?x=1', 'DELETE', '/users/1?x=1'],
    [true, 405, 'POST is not allowed on /users/1', 'POST', '/users/1']
  ])
  // Left to the default handling, it is the 405 an app without a handler gets.
  const plain = await App.new().get('/a', () => 'a').setErrorHandler(() => undefined).inject({ method: 'DELETE', url: '/a' })
  assert.deepEqual([plain.statusCode, plain.headers.allow, plain.json()], [405, 'GET,HEAD', failure(405, 'DELETE is not allowed on /a')])
})

test('configuration that would be silently ignored throws instead', async () => {
  const app = App.new().get('/a', () => 'a')
  const s = await app.listen(0)
  try {
    assert.throws(() => app.get('/b', () => 'b'), /the app is serving/)
    assert.throws(() => app.wrap(Logger.default()), /the app is serving/)
    assert.equal((await fetch(`${s.url}/a`)).status, 200)
  } finally {
    await s.close()
  }
  // Once closed, it can change and serve again.
  app.get('/b', () => 'b')
  await serving(app, async (url) => assert.equal(await (await fetch(`${url}/b`)).text(), 'b'))

  const api = scope('/api').route('/x', get(() => 'x'))
  App.new().service(api)
  assert.throws(() => api.route('/y', get(() => 'y')), /before mounting/)

  // A method given twice is refused before any of the route's methods is registered.
  const b = App.new()
  assert.throws(() => b.route('/p', get(() => 1).post(() => 2).get(() => 3)), /GET is given twice/)
  b.route('/p', get(() => 1).post(() => 2))

  // Each registration is checked against the routes so far (not by rebuilding the table):
  // conflicts are still found after a refused route, and through scopes.
  const c = App.new().get('/u/:id', () => 'u')
  assert.throws(() => c.get('/{', () => 'x'), /invalid route/)
  assert.throws(() => c.get('/u/:name', () => 'x'), /invalid route: .*\/u\/:name/)
  assert.throws(() => c.service(scope('/u').route('/:other', get(() => 'x'))), /invalid route/)
  c.service(scope('/api').route('/u/:id', get(() => 'api')))
  assert.equal((await c.inject('/api/u/7')).body, 'api')

  assert.throws(() => App.new().get('/files/*', () => 'x'), /a catch-all is written \{\*name\}/)
  // Express 5's named wildcard, and a `*` anywhere else, would be literal text nothing requests.
  assert.throws(() => App.new().get('/files/*rest', () => 'x'), /invalid route: \/files\/\*rest: a catch-all is written \{\*name\}, like \/files\/\{\*rest\}/)
  assert.throws(() => App.new().get('/files/a*b', () => 'x'), /a catch-all is written \{\*name\}/)
  assert.throws(() => App.new().route('/*', get(() => 'x')), /a catch-all is written \{\*name\}/)
  assert.throws(() => App.new().route({ method: 'GET', url: '/files/*rest', handler: () => 'x' }), /a catch-all is written \{\*name\}/)
  assert.throws(() => scope('/api').route('/files/*rest', get(() => 'x')), /a catch-all is written \{\*name\}/)
  // Fastify's other parameter forms are refused for what they are.
  assert.throws(() => App.new().get('/users/:id(^\\d+)', () => 'x'), /takes no regular expression/)
  assert.throws(() => App.new().get('/archive/:year?', () => 'x'), /cannot be optional/)
  assert.throws(() => App.new().get('/at/:lat-:lng', () => 'x'), /must span a whole segment/)
  assert.throws(() => App.new().get('/files/:name.json', () => 'x'), /must span a whole segment/)
  assert.equal((await App.new().get('/files/{*path}', (req) => req.param('path')).inject('/files/a/b')).body, 'a/b')
  // As Fastify's `/files/*`, a catch-all matches an empty rest, but not the path without its slash.
  const files = App.new().get('/files/{*path}', (req) => ({ params: req.params, route: req.route }))
  assert.deepEqual((await files.inject('/files/')).json(), { params: { path: '' }, route: '/files/{*path}' })
  assert.equal((await files.inject('/files')).statusCode, 404)
  const root = App.new().get('/', () => 'home').get('/{*path}', (req) => `rest:${req.param('path')}`)
  assert.equal((await root.inject('/')).body, 'home')
  assert.equal((await root.inject('/x/y')).body, 'rest:x/y')

  assert.throws(() => Cors.new({ origins: ['https://a.example'], maxAge: -1 }), /maxAge/)
  assert.throws(() => Cors.new({ origins: ['https://a.example'], maxAge: 1.5e10 }), /maxAge/)
  assert.throws(() => Cors.new({ origins: ['https://a.example'], exposedHeaders: ['x'] }), /unknown option "exposedHeaders"/)
})

test('a handler that answers after its app was recompiled and collected does not take the process down', async () => {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc')
  const tick = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
  const unhandled = []
  const onUnhandled = (reason) => unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  try {
    let release
    const late = new Promise((resolve) => { release = resolve })
    let answered = false
    const app = App.new().get('/slow', async (req) => {
      await late
      answered = true
      return `late for ${req.path}`
    })
    const s = await app.listen(0, '127.0.0.1', { signals: false, shutdownTimeout: 50 })
    const socket = net.connect(s.port, '127.0.0.1', () => socket.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n'))
    socket.on('error', () => {})
    const closed = new Promise((resolve) => socket.on('close', resolve))
    await tick(100)
    await s.close() // past the deadline the request is dropped, its handler still waiting
    await closed
    app.get('/other', () => 'x') // the app recompiles: its old native app is unreferenced
    for (let i = 0; i < 5; i++) { gc(); await tick(20) }
    release()
    for (let i = 0; i < 5; i++) await tick(20)
    assert.ok(answered, 'the handler ran to its end')
    assert.deepEqual(unhandled, [])
    // The app serves again with its new route.
    assert.equal((await app.inject('/other')).body, 'x')
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
})

test('an app that is gone is freed with its handlers, compiled or not; a serving one is kept', async () => {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc')
  const tick = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
  // Which of `refs` are collected. `deref()` keeps its target alive until the end of the
  // current job, so the collector runs in a job of its own, after a tick.
  const collect = async (refs) => {
    for (let i = 0; i < 20; i++) {
      await tick(20)
      gc()
      await tick(0)
      if (refs.every((r) => r.deref() === undefined)) break
    }
    return refs.map((r) => r.deref() === undefined)
  }
  const refs = []
  // In a function of its own, so nothing of it stays on this test's stack.
  const make = async (use) => {
    const captured = { n: 41 }
    refs.push(new WeakRef(captured))
    const app = App.new().get('/', () => ({ n: captured.n + 1 })).service(scope('/s').route('/', get(() => captured)))
    if (use === 'inject') assert.equal((await app.inject('/')).body, '{"n":42}')
    if (use === 'listen') return app.listen(0)
  }
  await make('none')
  await make('inject')
  const server = await make('listen')
  assert.deepEqual(await collect(refs.slice(0, 2)), [true, true])
  // The server holds its app: it still answers, with the handler's captured state.
  assert.deepEqual(await collect(refs.slice(2)), [false])
  assert.equal(await (await fetch(server.url)).text(), '{"n":42}')
  await server.close()
  assert.deepEqual(await collect(refs.slice(2)), [true])
})

test('middleware changes its own copy of a response the handler shares between requests', async () => {
  const shared = HttpResponse.json({ ok: true }).header('x-handler', '1')
  const app = App.new()
    .wrap(async (req, next) => (await next()).header('x-js', 'yes').status(201))
    .get('/', () => shared)
  await serving(app, async (url) => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(url)
      assert.equal(res.status, 201)
      assert.equal(res.headers.get('x-js'), 'yes')
      assert.equal(res.headers.get('x-handler'), '1')
      assert.deepEqual(await res.json(), { ok: true })
    }
  })
  assert.equal(shared.statusCode, 200)
  assert.deepEqual(shared.headerList, ['x-handler', '1'])
})

test('values JSON cannot say, and streams, answer 500; every kind of bytes is sent as bytes', async () => {
  const app = App.new()
    .get('/json-undefined', () => HttpResponse.json(undefined))
    .get('/symbol', () => Symbol('s'))
    .get('/function', () => () => 1)
    .get('/stream', () => Readable.from(['a']))
    .get('/undefined-header', () => HttpResponse.text('x').header('x-a', undefined))
    .get('/f32', () => new Float32Array([1.5]))
    .get('/arraybuffer', () => new Uint8Array([1, 2, 3]).buffer)
    .get('/dataview', () => new DataView(new Uint8Array([0, 9, 8, 0]).buffer, 1, 2))
    .get('/null-init', () => new HttpResponse('fine', null))
  await serving(app, async (url) => {
    for (const path of ['/json-undefined', '/symbol', '/function', '/stream', '/undefined-header']) {
      assert.equal((await fetch(url + path)).status, 500, path)
    }
    const bytes = async (path) => {
      const res = await fetch(url + path)
      assert.equal(res.headers.get('content-type'), 'application/octet-stream', path)
      return [...new Uint8Array(await res.arrayBuffer())]
    }
    assert.deepEqual(await bytes('/f32'), [...new Uint8Array(new Float32Array([1.5]).buffer)])
    assert.deepEqual(await bytes('/arraybuffer'), [1, 2, 3])
    assert.deepEqual(await bytes('/dataview'), [9, 8])
    assert.equal(await (await fetch(`${url}/null-init`)).text(), 'fine')
  })
})

test('listen() picks a free port, takes a numeric string; data() takes an object only', async () => {
  for (const port of [undefined, '0']) {
    const s = await App.new().get('/', () => 'up').listen(port)
    try {
      assert.ok(s.port > 0)
      assert.equal(await (await fetch(s.url)).text(), 'up')
    } finally {
      await s.close()
    }
  }
  assert.throws(() => App.new().data('abc'), /data\(values\)/)
  assert.throws(() => App.new().data(null), /data\(values\)/)
})

test('a body declared larger than the limit is refused before it is sent', async () => {
  const s = await App.new().post('/upload', (req) => `got ${req.body.length}`).listen(0)
  try {
    // Only the head is sent: the answer cannot wait for a body that never comes.
    const got = await exchange(s.port, 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n', /\r\n\r\n[\s\S]*\}/)
    assert.match(got, /^HTTP\/1\.1 413 /)
  } finally {
    await s.close()
  }
})

test('App.new({ bodyLimit }) sets the largest body accepted; bad options throw', async () => {
  const app = App.new({ bodyLimit: 10 }).post('/upload', (req) => `got ${req.body.length}`)
  await serving(app, async (url) => {
    const send = (n) => fetch(`${url}/upload`, { method: 'POST', body: 'x'.repeat(n) })
    assert.equal(await (await send(10)).text(), 'got 10')
    assert.equal((await send(11)).status, 413)
  })
  assert.equal((await app.inject({ method: 'POST', url: '/upload', body: 'x'.repeat(11) })).statusCode, 413)
  assert.throws(() => App.new({ bodyLimit: -1 }), /bodyLimit/)
  assert.throws(() => App.new({ bodylimit: 10 }), /unknown option "bodylimit"/)
  assert.ok(Router.new({ bodyLimit: 1 }) instanceof Router)
})

test('an error\'s own headers (http-errors\' err.headers) go on the default answer, 4xx and 5xx', async () => {
  const withHeaders = (status, headers) => Object.assign(new Error(`status ${status}`), { status, headers })
  const app = App.new()
    .get('/401', () => { throw withHeaders(401, { 'www-authenticate': 'Bearer realm="api"', 'set-cookie': ['a=1', 'b=2'] }) })
    .get('/503', async () => { throw withHeaders(503, { 'retry-after': '120' }) })
    // The answer's content type and length are its own; an invalid header is left off a 5xx.
    .get('/own', () => { throw withHeaders(429, { 'content-type': 'text/html', 'content-length': '999', 'retry-after': 1 }) })
    .get('/bad', () => { throw withHeaders(500, { 'bad name': 'x', 'x-ok': 'y' }) })
    // Without a status of its own, an error's `headers` may be anything (a client library's
    // request headers): not sent.
    .get('/plain', () => { throw Object.assign(new Error('x'), { headers: { authorization: 'Bearer secret' } }) })
    .get('/handled', () => { throw withHeaders(401, { 'www-authenticate': 'Bearer' }) })
    .setErrorHandler(() => undefined)
  await serving(app, async (url) => {
    const unauthorized = await fetch(`${url}/401`)
    assert.equal(unauthorized.status, 401)
    assert.equal(unauthorized.headers.get('www-authenticate'), 'Bearer realm="api"')
    assert.deepEqual(unauthorized.headers.getSetCookie(), ['a=1', 'b=2'])
    assert.deepEqual(await unauthorized.json(), failure(401, 'status 401'))
    const unavailable = await fetch(`${url}/503`)
    assert.equal(unavailable.status, 503)
    assert.equal(unavailable.headers.get('retry-after'), '120')
    assert.deepEqual(await unavailable.json(), failure(503, 'Service Unavailable'))
    const own = await fetch(`${url}/own`)
    assert.equal(own.status, 429)
    assert.equal(own.headers.get('content-type'), 'application/json; charset=utf-8')
    assert.equal(own.headers.get('retry-after'), '1')
    assert.deepEqual(await own.json(), failure(429, 'status 429'))
    const bad = await fetch(`${url}/bad`)
    assert.equal(bad.status, 500)
    assert.equal(bad.headers.get('x-ok'), 'y')
    const plain = await fetch(`${url}/plain`)
    assert.equal(plain.status, 500)
    assert.equal(plain.headers.get('authorization'), null)
    // An error handler that leaves the error to the default handling gets the headers sent too.
    assert.equal((await fetch(`${url}/handled`)).headers.get('www-authenticate'), 'Bearer')
  })
})
