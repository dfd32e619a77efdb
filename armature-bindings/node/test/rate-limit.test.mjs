// RateLimit: armature-layers' GCRA limiter as a preset layer, seen from JS over a real socket.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { App, HttpResponse, Cors, RateLimit, get } from '../lib/index.mjs'
import { failure, serving, within } from './helpers.mjs'

test('over quota: 429 with Retry-After, the RateLimit headers and a short body; the handler is not run', async () => {
  let calls = 0
  const app = App.new()
    .wrap(Cors.permissive())
    .wrap(RateLimit.perMinute(2))
    .route('/items', get(() => { calls++; return HttpResponse.json([]) }))
  const s = await app.listen(0)
  try {
    const first = await fetch(`${s.url}/items`)
    assert.equal(first.status, 200)
    assert.equal(first.headers.get('ratelimit-policy'), '"default";q=2;w=60')
    assert.equal(first.headers.get('ratelimit'), '"default";r=1;t=30')
    assert.equal((await fetch(`${s.url}/items`)).status, 200)
    const refused = await fetch(`${s.url}/items`, { headers: { origin: 'https://app.example' } })
    assert.equal(refused.status, 429)
    assert.equal(refused.headers.get('retry-after'), '30')
    assert.equal(refused.headers.get('ratelimit-policy'), '"default";q=2;w=60')
    assert.equal(refused.headers.get('ratelimit'), '"default";r=0;t=60')
    assert.equal(refused.headers.get('content-type'), 'application/json; charset=utf-8')
    // CORS is outside the limit: a page can read the 429. The request id is there too.
    assert.equal(refused.headers.get('access-control-allow-origin'), '*')
    assert.match(refused.headers.get('x-request-id'), /^[0-9a-f-]{36}$/)
    // The package's JSON error shape, as @fastify/rate-limit answers.
    assert.deepEqual(await refused.json(), failure(429, 'Rate limit exceeded, retry in 30 seconds'))
    assert.equal(calls, 2)
  } finally {
    await s.close()
  }
})

test('RateLimit.perSecond replenishes: Retry-After says when, and waiting that long is enough', async () => {
  const app = App.new().wrap(RateLimit.perSecond(1)).route('/', get(() => 'ok'))
  const s = await app.listen(0)
  try {
    assert.equal((await fetch(`${s.url}/`)).status, 200)
    const refused = await fetch(`${s.url}/`)
    assert.equal(refused.status, 429)
    assert.equal(refused.headers.get('retry-after'), '1')
    await new Promise((resolve) => setTimeout(resolve, 1000))
    assert.equal((await fetch(`${s.url}/`)).status, 200)
  } finally {
    await s.close()
  }
})

test('keys are independent: keyBy header, and client IPs behind a trusted proxy', async () => {
  const app = App.new()
    .wrap(RateLimit.perMinute(1, { keyBy: { header: 'x-api-key' }, name: 'api' }))
    .route('/', get(() => 'ok'))
  const s = await app.listen(0)
  try {
    const as = (key) => fetch(`${s.url}/`, { headers: key ? { 'x-api-key': key } : {} })
    assert.equal((await as('alice')).status, 200)
    assert.equal((await as('alice')).status, 429)
    const bob = await as('bob')
    assert.equal(bob.status, 200)
    assert.equal(bob.headers.get('ratelimit'), '"api";r=0;t=60')
    // No key: not limited, and no RateLimit headers.
    for (let i = 0; i < 3; i++) {
      const anon = await as(null)
      assert.equal(anon.status, 200)
      assert.equal(anon.headers.get('ratelimit'), null)
    }
    assert.equal((await as('alice')).status, 429)
  } finally {
    await s.close()
  }

  // This process is the trusted proxy (127.0.0.1); the client is the rightmost other hop.
  const proxied = App.new()
    .wrap(RateLimit.new({ requests: 1, perSeconds: 60, trustProxies: ['127.0.0.1'] }))
    .route('/', get(() => 'ok'))
  const p = await proxied.listen(0)
  try {
    const from = (chain) => fetch(`${p.url}/`, { headers: { 'x-forwarded-for': chain } }).then((r) => r.status)
    assert.equal(await from('198.51.100.1'), 200)
    assert.equal(await from('198.51.100.1'), 429)
    assert.equal(await from('198.51.100.2'), 200)
    // A spoofed leftmost entry does not buy a new budget.
    assert.equal(await from('1.2.3.4, 198.51.100.2'), 429)
  } finally {
    await p.close()
  }
})

test('inject goes through the limit as 127.0.0.1 or the given remoteAddress; counts belong to the RateLimit', async () => {
  const limit = RateLimit.perMinute(1)
  const app = App.new().wrap(limit).route('/', get(() => 'ok'))
  assert.equal((await app.inject('/')).statusCode, 200)
  const refused = await app.inject('/')
  assert.equal(refused.statusCode, 429)
  assert.equal(refused.headers['retry-after'], '60')
  assert.equal((await app.inject({ url: '/', remoteAddress: '192.0.2.7' })).statusCode, 200)
  // A new route recompiles the app; the counts survive. Another app with the same limit shares them.
  app.route('/other', get(() => 'other'))
  assert.equal((await app.inject('/other')).statusCode, 429)
  const twin = App.new().wrap(limit).route('/', get(() => 'twin'))
  assert.equal((await twin.inject({ url: '/', remoteAddress: '192.0.2.7' })).statusCode, 429)
  assert.equal((await App.new().wrap(RateLimit.perMinute(1)).route('/', get(() => 'x')).inject('/')).statusCode, 200)
  await assert.rejects(app.inject({ url: '/', remoteAddress: 'not-an-ip' }), /remoteAddress must be an IP address/)
})

test('invalid RateLimit options throw a clear error at registration', () => {
  const cases = [
    [() => RateLimit.perSecond(0), /RateLimit: requests must be a positive integer, got 0/],
    [() => RateLimit.perMinute(1.5), /requests must be a positive integer, got 1\.5/],
    [() => RateLimit.perSecond('100'), /requests must be a positive integer/],
    [() => new RateLimit(), /RateLimit: pass options like \{ requests: 100, perSeconds: 1 \}/],
    [() => new RateLimit({ requests: 10, perSeconds: 0 }), /perSeconds must be a positive number of seconds, got 0/],
    [() => new RateLimit({ requests: 10, perSeconds: 1e30 }), /perSeconds must be a positive number of seconds/],
    [() => new RateLimit({ requests: 10, perSecond: 1 }), /unknown option "perSecond"/],
    [() => RateLimit.perSecond(10, { burst: 0 }), /burst must be a positive integer, got 0/],
    [() => RateLimit.perSecond(10, { keyBy: 'user' }), /keyBy must be 'ip' or \{ header: 'x-api-key' \}/],
    [() => RateLimit.perSecond(10, { keyBy: { header: 'bad header' } }), /invalid header name "bad header"/],
    [() => RateLimit.perSecond(10, { trustProxies: ['10.0.0.300'] }), /invalid trusted proxy "10\.0\.0\.300"/],
    [() => RateLimit.perSecond(10, { keyBy: { header: 'x-api-key' }, trustProxies: ['10.0.0.0/8'] }), /trustProxies only applies with keyBy: 'ip'/],
    [() => RateLimit.perSecond(10, { name: 'two words' }), /invalid rate-limit policy name "two words"/],
    [() => RateLimit.perSecond(10, { redis: 'http://not-redis' }), /RateLimit: rate-limit Redis store:/],
    [() => RateLimit.perSecond(10, { redis: 'redis://127.0.0.1/', redisOnFailure: 'maybe' }), /RateLimit: redisOnFailure: unknown Redis failure policy "maybe": use "open" .* or "closed"/],
    [() => RateLimit.perSecond(10, { redisOnFailure: 'closed' }), /only apply with `redis/],
    [() => RateLimit.perSecond(10, 'fast'), /RateLimit\.perSecond: options must be an object/],
    [() => RateLimit.perMinute(10, { perSeconds: 5 }), /RateLimit\.perMinute\(n, options\): perSeconds comes from the call/]
  ]
  for (const [make, message] of cases) assert.throws(make, message)
  assert.throws(() => App.new().wrap({ requests: 10 }), /wrap\(\): pass .*RateLimit\.perSecond\(n\)/)
})

const redisServer = spawnSync('redis-server', ['--version']).status === 0

test('redis: two apps (as two processes would) share one budget per key', { skip: !redisServer && 'redis-server is not installed' }, async () => {
  const port = await freePort()
  const redis = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] })
  const exited = new Promise((resolve) => redis.on('exit', resolve))
  try {
    await within(5000, new Promise((resolve) => {
      let seen = ''
      redis.stdout.on('data', (d) => { seen += d; if (/ready to accept connections/i.test(seen)) resolve() })
    }), 'redis-server ready')
    const limit = () => RateLimit.perMinute(2, { redis: `redis://127.0.0.1:${port}/`, keyBy: { header: 'x-api-key' }, redisOnFailure: 'closed' })
    const a = await App.new().wrap(limit()).route('/', get(() => 'a')).listen(0)
    const b = await App.new().wrap(limit()).route('/', get(() => 'b')).listen(0)
    try {
      const call = (s, key) => fetch(`${s.url}/`, { headers: { 'x-api-key': key } })
      assert.equal((await call(a, 'k')).status, 200)
      assert.equal((await call(b, 'k')).status, 200)
      const refused = await call(a, 'k')
      assert.equal(refused.status, 429)
      assert.equal(refused.headers.get('retry-after'), '30')
      assert.equal((await call(b, 'other')).status, 200)
    } finally {
      await a.close()
      await b.close()
    }
  } finally {
    redis.kill('SIGTERM')
    await within(5000, exited, 'redis-server exit')
  }
})

function freePort () {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    }).on('error', reject)
  })
}

test('several limits: each applies', async () => {
  const app = App.new()
    .wrap(RateLimit.perMinute(3))
    .wrap(RateLimit.perMinute(1, { keyBy: { header: 'x-api-key' }, name: 'api' }))
    .route('/', get(() => 'ok'))
  const as = (key) => app.inject({ url: '/', headers: key ? { 'x-api-key': key } : {} }).then((r) => r.statusCode)
  assert.equal(await as('k'), 200)
  assert.equal(await as('k'), 429) // the per-key limit
  assert.equal(await as(null), 200)
  assert.equal(await as(null), 429) // the per-IP limit: 3 requests from 127.0.0.1 so far
})

test('a 429 reaches setErrorHandler as Fastify\'s rate-limit error; Retry-After and the RateLimit headers stay on its answer', async () => {
  let calls = 0
  const seen = []
  const app = App.new()
    .wrap(Cors.permissive())
    .wrap(RateLimit.perMinute(1))
    .route('/items', get(() => { calls++; return 'items' }))
    .setErrorHandler((err, req) => {
      seen.push([err instanceof Error, err.statusCode, err.message, req.method, req.path, typeof req.id])
      if (req.header('x-answer') === 'own') return HttpResponse.status(503).header('retry-after', '5').json({ own: true })
      if (req.header('x-answer') === 'default') return undefined
      return HttpResponse.status(err.statusCode).json({ problem: err.message })
    })
  const s = await app.listen(0)
  try {
    const as = (answer) => fetch(`${s.url}/items?page=2`, { headers: { origin: 'https://app.example', ...(answer ? { 'x-answer': answer } : {}) } })
    assert.equal((await as()).status, 200)
    const refused = await as()
    // Before, the error handler was never called: Rust answered the package's own 429.
    assert.deepEqual([refused.status, await refused.json()], [429, { problem: 'Rate limit exceeded, retry in 60 seconds' }])
    assert.equal(refused.headers.get('retry-after'), '60')
    assert.equal(refused.headers.get('ratelimit-policy'), '"default";q=1;w=60')
    assert.equal(refused.headers.get('ratelimit'), '"default";r=0;t=60')
    assert.equal(refused.headers.get('access-control-allow-origin'), '*')
    assert.match(refused.headers.get('x-request-id'), /^[0-9a-f-]{36}$/)
    // What the handler sets wins; the limit adds only what it left out.
    const own = await as('own')
    assert.deepEqual([own.status, own.headers.get('retry-after'), own.headers.get('ratelimit'), await own.json()],
      [503, '5', '"default";r=0;t=60', { own: true }])
    // Left to the default handling: the package's 429, as without a handler.
    const plain = await as('default')
    assert.deepEqual([plain.status, plain.headers.get('retry-after'), await plain.json()],
      [429, '60', failure(429, 'Rate limit exceeded, retry in 60 seconds')])
    assert.equal(calls, 1, 'refused requests never reach the route handler')
    assert.deepEqual(seen, Array(3).fill([true, 429, 'Rate limit exceeded, retry in 60 seconds', 'GET', '/items', 'string']))
  } finally {
    await s.close()
  }
})

test('without an error handler the 429 stays Rust\'s own, middleware or not; stacked limits do not count each other\'s refusals', async () => {
  let middleware = 0
  const plain = App.new()
    .wrap(RateLimit.perMinute(1))
    .wrap(async (req, next) => { middleware++; return (await next()).header('x-mw', 'yes') })
    .route('/', get(() => 'ok'))
  await serving(plain, async (url) => {
    assert.equal((await fetch(`${url}/`)).headers.get('x-mw'), 'yes')
    const refused = await fetch(`${url}/`)
    assert.deepEqual([refused.status, refused.headers.get('x-mw'), refused.headers.get('retry-after'), await refused.json()],
      [429, null, '60', failure(429, 'Rate limit exceeded, retry in 60 seconds')])
    assert.equal(middleware, 1)
  })

  // The outer limit refuses; the inner one (shared with `twin`) must not count those requests.
  const inner = RateLimit.perMinute(3, { name: 'inner' })
  const stacked = App.new()
    .wrap(RateLimit.perMinute(1, { name: 'outer' }))
    .wrap(inner)
    .route('/', get(() => 'ok'))
    .setErrorHandler((err) => HttpResponse.status(err.statusCode).text(err.message))
  const twin = App.new().wrap(inner).route('/', get(() => 'twin'))
  await serving(stacked, async (url) => {
    assert.equal((await fetch(`${url}/`)).status, 200)
    for (let i = 0; i < 3; i++) {
      const refused = await fetch(`${url}/`)
      assert.deepEqual([refused.status, refused.headers.get('ratelimit'), await refused.text()],
        [429, '"outer";r=0;t=60', 'Rate limit exceeded, retry in 60 seconds'])
    }
  })
  await serving(twin, async (url) => {
    const res = await fetch(`${url}/`)
    assert.deepEqual([res.status, res.headers.get('ratelimit')], [200, '"inner";r=1;t=40'])
  })
})
