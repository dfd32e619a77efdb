// Per-scope error and not-found handlers, as Fastify's encapsulation gives them: a plugin's
// setErrorHandler answers what its routes (and its nested plugins' without their own) throw,
// passing on to the parent's what it throws itself; a prefixed plugin's setNotFoundHandler
// answers the unmatched paths under its prefix. Real servers, real sockets.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { App, HttpError, HttpResponse, RateLimit, get, scope } from '../lib/index.mjs'
import { failure, serving } from './helpers.mjs'

/** `[status, JSON body]` of `url`. */
async function answer (url, init) {
  const res = await fetch(url, init)
  const type = res.headers.get('content-type') ?? ''
  return [res.status, type.startsWith('application/json') ? await res.json() : await res.text()]
}

const boom = (message, statusCode) => () => { throw Object.assign(new Error(message), statusCode === undefined ? {} : { statusCode }) }

test('a scope\'s error handler answers its routes\' errors only; other routes keep the app\'s', async () => {
  const seen = []
  const app = App.new()
    .get('/top', boom('top failed', 409))
    .setErrorHandler((err, req) => { seen.push(['app', req.path]); return HttpResponse.json({ by: 'app', message: err.message }, 500) })
    .register(async (s) => {
      s.setErrorHandler((err, req) => { seen.push(['v1', req.path]); return { by: 'v1', message: err.message } })
      s.get('/a', boom('a failed', 418))
      s.get('/async', async () => { await null; throw new HttpError(403, 'no') })
      s.get('/returned', () => new Error('returned'))
      s.get('/ok', () => 'fine')
    }, { prefix: '/v1' })
    // A sibling plugin without its own: the app's.
    .register(async (s) => { s.get('/b', boom('b failed')) }, { prefix: '/v2' })
  await serving(app, async (url) => {
    // A plain value keeps the error's status, as for the app's handler.
    assert.deepEqual(await answer(`${url}/v1/a`), [418, { by: 'v1', message: 'a failed' }])
    assert.deepEqual(await answer(`${url}/v1/async`), [403, { by: 'v1', message: 'no' }])
    assert.deepEqual(await answer(`${url}/v1/returned`), [500, { by: 'v1', message: 'returned' }])
    assert.deepEqual(await answer(`${url}/v1/ok`), [200, 'fine'])
    assert.deepEqual(await answer(`${url}/v2/b`), [500, { by: 'app', message: 'b failed' }])
    assert.deepEqual(await answer(`${url}/top`), [500, { by: 'app', message: 'top failed' }])
  })
  assert.deepEqual(seen, [['v1', '/v1/a'], ['v1', '/v1/async'], ['v1', '/v1/returned'], ['app', '/v2/b'], ['app', '/top']])
})

test('nested scopes: the nearest error handler wins; a nested scope without one uses its parent\'s', async () => {
  const app = App.new()
    .register(async (outer) => {
      outer.setErrorHandler((err) => HttpResponse.text(`outer: ${err.message}`, 500))
      outer.get('/x', boom('outer route'))
      outer.register(async (inner) => {
        inner.setErrorHandler((err) => HttpResponse.text(`inner: ${err.message}`, 500))
        inner.get('/x', boom('inner route'))
        inner.register(async (deepest) => { deepest.get('/x', boom('deepest route')) }, { prefix: '/deepest' })
      }, { prefix: '/inner' })
      // No prefix, no handler of its own: the outer's.
      outer.register((plain) => { plain.get('/plain', boom('plain route')) })
    }, { prefix: '/outer' })
    // scope('/s') mounted with service() has them too.
    .service(scope('/s').setErrorHandler(() => HttpResponse.text('service scope', 500)).route('/x', get(boom('s'))))
  await serving(app, async (url) => {
    assert.deepEqual(await answer(`${url}/outer/x`), [500, 'outer: outer route'])
    assert.deepEqual(await answer(`${url}/outer/inner/x`), [500, 'inner: inner route'])
    assert.deepEqual(await answer(`${url}/outer/inner/deepest/x`), [500, 'inner: deepest route'])
    assert.deepEqual(await answer(`${url}/outer/plain`), [500, 'outer: plain route'])
    assert.deepEqual(await answer(`${url}/s/x`), [500, 'service scope'])
  })
})

test('a scope handler that throws, returns an Error or returns nothing falls back to its parent\'s, then the default', async () => {
  const seen = []
  const app = App.new()
    .setErrorHandler((err, req) => {
      seen.push(['app', err.message])
      if (req.path.endsWith('/default')) return undefined
      return HttpResponse.text(`app: ${err.message}`, 502)
    })
    .register(async (outer) => {
      outer.setErrorHandler((err, req) => {
        seen.push(['outer', err.message])
        if (req.path.endsWith('/outer')) return HttpResponse.text(`outer: ${err.message}`, 500)
        throw new Error(`outer rethrew ${err.message}`)
      })
      outer.register(async (inner) => {
        inner.setErrorHandler(async (err, req) => {
          seen.push(['inner', err.message])
          if (req.path.endsWith('/throws') || req.path.endsWith('/default')) throw new HttpError(503, `inner threw over ${err.message}`)
          if (req.path.endsWith('/returns-error')) return new Error('inner returned an error')
          // Nothing: the parent gets the original error.
          return undefined
        })
        for (const name of ['throws', 'returns-error', 'nothing', 'outer', 'default']) inner.get(`/${name}`, boom(name))
      }, { prefix: '/inner' })
    }, { prefix: '/outer' })
  await serving(app, async (url) => {
    assert.deepEqual(await answer(`${url}/outer/inner/throws`), [502, 'app: outer rethrew inner threw over throws'])
    assert.deepEqual(await answer(`${url}/outer/inner/returns-error`), [502, 'app: outer rethrew inner returned an error'])
    assert.deepEqual(await answer(`${url}/outer/inner/outer`), [500, 'outer: outer'])
    // The app's returns nothing too: the default answer for the last error it was given.
    assert.deepEqual(await answer(`${url}/outer/inner/default`), [500, failure(500, 'Internal Server Error')])
  })
  assert.deepEqual(seen.slice(0, 6), [
    ['inner', 'throws'], ['outer', 'inner threw over throws'], ['app', 'outer rethrew inner threw over throws'],
    ['inner', 'returns-error'], ['outer', 'inner returned an error'], ['app', 'outer rethrew inner returned an error']
  ])
  // Nothing from the inner: the outer sees the route's own error.
  const nothing = App.new().register(async (outer) => {
    outer.setErrorHandler((err) => HttpResponse.text(`outer got ${err.message}`, 500))
    outer.register(async (inner) => { inner.setErrorHandler(() => undefined); inner.get('/x', boom('original')) }, { prefix: '/in' })
  }, { prefix: '/out' })
  await serving(nothing, async (url) => {
    assert.deepEqual(await answer(`${url}/out/in/x`), [500, 'outer got original'])
  })
  // Without an app handler, past the scope's: the default answer of the error it threw.
  const bare = App.new().register(async (s) => {
    s.setErrorHandler(() => { throw new HttpError(409, 'the handler\'s own') })
    s.get('/x', boom('route'))
  }, { prefix: '/s' })
  await serving(bare, async (url) => {
    assert.deepEqual(await answer(`${url}/s/x`), [409, failure(409, 'the handler\'s own')])
  })
})

test('a scope\'s middleware errors and answers middleware sees: the scope\'s handler answers, the app\'s middleware wraps it', async () => {
  const app = App.new()
    .wrap(async (req, next) => (await next()).header('x-app', 'seen'))
    .register(async (s) => {
      s.setErrorHandler((err) => HttpResponse.json({ scoped: err.message }, 401))
      s.wrap(async (req, next) => {
        if (req.header('authorization') === undefined) throw new Error('no credentials')
        return next()
      })
      s.get('/private', boom('private failed', 500))
    }, { prefix: '/admin' })
  await serving(app, async (url) => {
    const res = await fetch(`${url}/admin/private`)
    assert.deepEqual([res.status, res.headers.get('x-app'), await res.json()], [401, 'seen', { scoped: 'no credentials' }])
    const inner = await fetch(`${url}/admin/private`, { headers: { authorization: 'Bearer x' } })
    assert.deepEqual([inner.status, inner.headers.get('x-app'), await inner.json()], [401, 'seen', { scoped: 'private failed' }])
  })
})

test('a validation error inside a scope reaches the scope\'s error handler', async () => {
  const app = App.new()
    .setErrorHandler(() => HttpResponse.text('app', 500))
    .post('/outside', { schema: { body: { type: 'object', required: ['a'] } } }, (req) => req.body)
    .register(async (s) => {
      s.setErrorHandler((err) => err.validation
        ? HttpResponse.json({ detail: err.validation.map((e) => e.message), in: err.validationContext }, 422)
        : undefined)
      s.post('/items', { schema: { body: { type: 'object', required: ['name'] } } }, (req) => req.body)
      s.get('/items/:id', { schema: { params: { type: 'object', properties: { id: { type: 'integer' } } } } }, (req) => req.params)
    }, { prefix: '/api' })
  await serving(app, async (url) => {
    const post = (path, body) => answer(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    assert.deepEqual(await post('/api/items', {}), [422, { detail: ["must have required property 'name'"], in: 'body' }])
    assert.deepEqual(await post('/api/items', { name: 'x' }), [200, { name: 'x' }])
    assert.deepEqual(await answer(`${url}/api/items/abc`), [422, { detail: ['must be integer'], in: 'params' }])
    assert.deepEqual(await post('/outside', {}), [500, 'app'])
  })
})

test('a prefixed scope\'s not-found handler answers the unmatched paths under its prefix; others fall back to the parent\'s', async () => {
  const app = App.new()
    .setNotFoundHandler((req) => HttpResponse.json({ missing: req.path, by: 'app' }, 404))
    .get('/v1-sibling', () => 'sibling')
    .register(async (v1) => {
      v1.setNotFoundHandler((req) => HttpResponse.json({ missing: req.path, by: 'v1' }, 404))
      v1.get('/users/:id', (req) => ({ id: req.params.id }))
      v1.register(async (admin) => {
        admin.setNotFoundHandler(HttpResponse.text('no such admin page', 404))
        admin.get('/stats', () => 'stats')
      }, { prefix: '/admin' })
      // A nested prefix without its own: the v1 handler.
      v1.register(async (docs) => { docs.get('/intro', () => 'intro') }, { prefix: '/docs' })
    }, { prefix: '/v1' })
    .register(async (v2) => { v2.get('/x', () => 'x') }, { prefix: '/v2' })
  await serving(app, async (url) => {
    assert.deepEqual(await answer(`${url}/v1/nope`), [404, { missing: '/v1/nope', by: 'v1' }])
    assert.deepEqual(await answer(`${url}/v1/users/7/deeper`), [404, { missing: '/v1/users/7/deeper', by: 'v1' }])
    assert.deepEqual(await answer(`${url}/v1/users/7`), [200, { id: '7' }])
    assert.deepEqual(await answer(`${url}/v1/`), [404, { missing: '/v1/', by: 'v1' }])
    assert.deepEqual(await answer(`${url}/v1/admin/nope`), [404, 'no such admin page'])
    assert.deepEqual(await answer(`${url}/v1/admin/stats`), [200, 'stats'])
    assert.deepEqual(await answer(`${url}/v1/docs/nope`), [404, { missing: '/v1/docs/nope', by: 'v1' }])
    // The prefix itself has only the scope's `/` route (none here): the app's.
    assert.deepEqual(await answer(`${url}/v1`), [404, { missing: '/v1', by: 'app' }])
    // Outside the prefix: the app's (a path that merely starts with it too).
    assert.deepEqual(await answer(`${url}/v1x`), [404, { missing: '/v1x', by: 'app' }])
    assert.deepEqual(await answer(`${url}/v2/nope`), [404, { missing: '/v2/nope', by: 'app' }])
    assert.deepEqual(await answer(`${url}/elsewhere`), [404, { missing: '/elsewhere', by: 'app' }])
    // A route's path with another method is still a 405, not a not-found.
    const wrong = await fetch(`${url}/v1/users/7`, { method: 'DELETE' })
    assert.deepEqual([wrong.status, wrong.headers.get('allow')], [405, 'GET,HEAD'])
  })
  // Without an app handler, the default 404 outside the prefix.
  const plain = App.new().register(async (s) => { s.setNotFoundHandler(() => HttpResponse.text('scoped 404', 404)) }, { prefix: '/s' })
  await serving(plain, async (url) => {
    assert.deepEqual(await answer(`${url}/s/x`), [404, 'scoped 404'])
    assert.deepEqual(await answer(`${url}/t`), [404, failure(404, 'Route GET:/t not found')])
  })
})

test('a scope\'s not-found handler runs with the scope\'s middleware and error handler', async () => {
  const seen = []
  const app = App.new()
    .wrap(async (req, next) => { seen.push(`app:${req.path}`); return next() })
    .register(async (s) => {
      s.wrap(async (req, next) => { seen.push(`scope:${req.path}`); return (await next()).header('x-scope', '1') })
      s.setErrorHandler((err) => HttpResponse.text(`scope handled ${err.message}`, 500))
      s.setNotFoundHandler((req) => { if (req.path === '/s/broken') throw new Error('not-found failed'); return HttpResponse.text('scope 404', 404) })
    }, { prefix: '/s' })
  await serving(app, async (url) => {
    const res = await fetch(`${url}/s/missing`)
    assert.deepEqual([res.status, res.headers.get('x-scope'), await res.text()], [404, '1', 'scope 404'])
    assert.deepEqual(await answer(`${url}/s/broken`), [500, 'scope handled not-found failed'])
    const outside = await fetch(`${url}/elsewhere`)
    assert.deepEqual([outside.status, outside.headers.get('x-scope')], [404, null])
  })
  assert.deepEqual(seen, ['app:/s/missing', 'scope:/s/missing', 'app:/s/broken', 'scope:/s/broken', 'app:/elsewhere'])
})

test('refusals before routing (413, 429) and the 405 go to the app\'s error handler, not a scope\'s', async () => {
  const seen = []
  const limit = RateLimit.perMinute(2)
  const app = App.new({ bodyLimit: 8 })
    .wrap(limit)
    .setErrorHandler((err, req) => { seen.push(['app', err.statusCode, req.path]); return HttpResponse.text(`app ${err.statusCode}`, err.statusCode) })
    .register(async (s) => {
      s.setErrorHandler((err) => { seen.push(['scope', err.statusCode]); return HttpResponse.text('scope', 500) })
      s.post('/upload', () => 'stored')
    }, { prefix: '/s' })
  await serving(app, async (url) => {
    assert.deepEqual(await answer(`${url}/s/upload`, { method: 'POST', body: 'more than eight bytes' }), [413, 'app 413'])
    assert.deepEqual(await answer(`${url}/s/upload`, { method: 'DELETE' }), [405, 'app 405'])
    assert.deepEqual(await answer(`${url}/s/upload`, { method: 'POST', body: 'ok' }), [429, 'app 429'])
  })
  assert.deepEqual(seen, [['app', 413, '/s/upload'], ['app', 405, '/s/upload'], ['app', 429, '/s/upload']])
})

test('the app\'s handlers are unaffected by scopes\' and the registration checks', async () => {
  // An app with scope handlers keeps its own behaviour for its own routes and not-found.
  const app = App.new()
    .get('/a', boom('a', 400))
    .get('/web', () => new Response('web', { status: 201 }))
    .register(async (s) => { s.setErrorHandler(() => HttpResponse.text('scope', 500)); s.get('/x', boom('x')) }, { prefix: '/s' })
  await serving(app, async (url) => {
    assert.deepEqual(await answer(`${url}/a`), [400, failure(400, 'a')])
    assert.deepEqual(await answer(`${url}/web`), [201, 'web'])
    assert.deepEqual(await answer(`${url}/nope`), [404, failure(404, 'Route GET:/nope not found')])
    assert.deepEqual(await answer(`${url}/s/x`), [500, 'scope'])
  })
  // An answer a scope handler returns that cannot be sent is not given back to a handler.
  const unsendable = App.new()
    .setErrorHandler(() => HttpResponse.text('app', 500))
    .register(async (s) => { s.setErrorHandler(() => ({ n: 1n })); s.get('/x', boom('x', 400)) }, { prefix: '/s' })
  assert.equal((await unsendable.inject('/s/x')).statusCode, 500)

  assert.throws(() => scope('/s').setErrorHandler('nope'), /pass a function/)
  assert.throws(() => scope('/s').setNotFoundHandler(5), /a handler must be a function/)
  // Only a scope with a prefix has paths of its own, as in Fastify.
  assert.throws(() => App.new().register((s) => { s.setNotFoundHandler(() => 'x') }), /a scope without a prefix/)
  // Set before the scope is mounted, as its routes are.
  const mounted = scope('/m').route('/x', get(() => 'x'))
  App.new().service(mounted)
  assert.throws(() => mounted.setErrorHandler(() => 'x'), /before mounting/)
  assert.throws(() => mounted.setNotFoundHandler(() => 'x'), /before mounting/)
})
