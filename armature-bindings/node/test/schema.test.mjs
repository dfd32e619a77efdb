// Route schemas (Fastify's `schema` option) against a real server with real fetch: request
// validation with coercion and defaults, response serialization that drops unlisted
// properties, shared schemas, and every way a schema can be wrong.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { App, HttpError, HttpResponse, get, post, scope } from '../lib/index.mjs'
import { failure } from './helpers.mjs'

const user = {
  $id: 'user',
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1 },
    age: { type: 'integer', minimum: 0 },
    role: { type: 'string', default: 'member' }
  },
  required: ['name'],
  additionalProperties: false
}
const publicUser = {
  type: 'object',
  properties: { id: { type: 'integer' }, name: { type: 'string' }, role: { type: 'string' } },
  required: ['id', 'name']
}

let server
let base
const app = App.new()
  .addSchema(user)
  .get('/users/:id', {
    schema: {
      params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } } },
      querystring: { type: 'object', properties: { verbose: { type: 'boolean', default: false }, tags: { type: 'array', items: { type: 'string' } } } },
      response: { 200: publicUser }
    }
  }, (req) => ({
    id: req.params.id,
    name: 'Alice',
    role: typeof req.params.id,
    verbose: req.query.verbose,
    // Never sent: the response schema does not list it.
    password: 'hunter2'
  }))
  .get('/query', { schema: { querystring: { type: 'object', properties: { verbose: { type: 'boolean', default: false }, tags: { type: 'array', items: { type: 'string' } } } } } },
    (req) => ({ query: req.query, verboseType: typeof req.query.verbose }))
  .post('/users', { schema: { body: { $ref: 'user#' }, response: { '2xx': { $ref: 'user#' } } } },
    (req) => HttpResponse.json({ ...req.json(), internal: true }, 201))
  .post('/tenant', { schema: { headers: { type: 'object', properties: { 'X-Tenant': { type: 'string', pattern: '^[a-z]+$' } }, required: ['X-Tenant'] } } },
    (req) => ({ tenant: req.headers['x-tenant'] }))
  .get('/broken', { schema: { response: { 200: publicUser } } }, async () => ({ name: 'no id' }))
  .get('/text', { schema: { response: { default: publicUser } } }, () => 'not JSON, sent as it is')
  .get('/constant/:n', { schema: { params: { type: 'object', properties: { n: { type: 'integer' } } } } }, HttpResponse.text('constant'))
  .route({ method: ['PUT', 'PATCH'], url: '/items/:id', schema: { params: { type: 'object', properties: { id: { type: 'integer' } } }, body: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] } }, handler: (req) => ({ id: req.params.id, n: req.json().n, method: req.method }) })
  .service(scope('/api').route('/things', post({ schema: { body: { type: 'array', items: { type: 'integer' }, maxItems: 3 } } }, (req) => ({ sum: req.json().reduce((a, b) => a + b, 0) }))))

before(async () => {
  server = await app.listen(0)
  base = server.url
})
after(() => server.close())

const send = (path, init = {}) => fetch(`${base}${path}`, init)
const postJson = (path, value, method = 'POST') => send(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) })

test('params are coerced to their schema types; a mismatch answers 400 saying what is wrong', async () => {
  const res = await send('/users/42')
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8')
  assert.deepEqual(await res.json(), { id: 42, name: 'Alice', role: 'number' })

  for (const [path, message] of [['/users/abc', 'params/id must be integer'], ['/users/0', 'params/id must be >= 1']]) {
    const bad = await send(path)
    assert.equal(bad.status, 400, path)
    assert.deepEqual(await bad.json(), failure(400, message, 'FST_ERR_VALIDATION'))
  }
})

test('the querystring gets its defaults and types, and repeated keys become an array', async () => {
  assert.deepEqual(await (await send('/query')).json(), { query: { verbose: false }, verboseType: 'boolean' })
  assert.deepEqual(await (await send('/query?verbose=true&tags=a')).json(), { query: { verbose: true, tags: ['a'] }, verboseType: 'boolean' })
  assert.deepEqual(await (await send('/query?tags=a&tags=b')).json(), { query: { verbose: false, tags: ['a', 'b'] }, verboseType: 'boolean' })
  const bad = await send('/query?verbose=maybe')
  assert.equal(bad.status, 400)
  assert.deepEqual(await bad.json(), failure(400, 'querystring/verbose must be boolean', 'FST_ERR_VALIDATION'))
})

test('a body schema: defaults filled, unlisted properties refused, shared schemas by $ref', async () => {
  const res = await postJson('/users', { name: 'Bob', age: '7' })
  assert.equal(res.status, 201)
  // age coerced from "7", role defaulted; `internal` dropped by the response schema.
  assert.deepEqual(await res.json(), { name: 'Bob', age: 7, role: 'member' })

  for (const [body, message] of [
    [{ age: 3 }, "body must have required property 'name'"],
    [{ name: '' }, 'body/name must NOT have fewer than 1 characters'],
    [{ name: 'Bob', age: -1 }, 'body/age must be >= 0'],
    [[1, 2], 'body must be object']
  ]) {
    const bad = await postJson('/users', body)
    assert.equal(bad.status, 400, JSON.stringify(body))
    assert.deepEqual(await bad.json(), failure(400, message, 'FST_ERR_VALIDATION'))
  }
})

test('a body that is not JSON: 400 when malformed or missing, 415 when said to be something else', async () => {
  const malformed = await send('/users', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' })
  assert.equal(malformed.status, 400)
  assert.match((await malformed.json()).message, /^malformed JSON body/)

  const missing = await send('/users', { method: 'POST' })
  assert.equal(missing.status, 400)
  assert.deepEqual(await missing.json(), failure(400, 'body must be object', 'FST_ERR_VALIDATION'))

  const form = await send('/users', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=Bob' })
  assert.equal(form.status, 415)
})

test('a body schema without a type allows no body: req.json() is then undefined', async () => {
  const app = App.new().post('/optional', { schema: { body: {} } }, (req) => ({ body: req.json() ?? 'none' }))
  const empty = await app.inject({ method: 'POST', url: '/optional' })
  assert.deepEqual([empty.statusCode, empty.json()], [200, { body: 'none' }])
  const given = await app.inject({ method: 'POST', url: '/optional', body: { a: 1 } })
  assert.deepEqual(given.json(), { body: { a: 1 } })
})

test('a headers schema matches header names in any case', async () => {
  const ok = await send('/tenant', { method: 'POST', headers: { 'x-tenant': 'acme' } })
  assert.equal(ok.status, 200)
  assert.deepEqual(await ok.json(), { tenant: 'acme' })
  const missing = await send('/tenant', { method: 'POST' })
  assert.equal(missing.status, 400)
  assert.deepEqual(await missing.json(), failure(400, "headers must have required property 'x-tenant'", 'FST_ERR_VALIDATION'))
  const bad = await send('/tenant', { method: 'POST', headers: { 'X-Tenant': 'ACME' } })
  assert.equal(bad.status, 400)
  assert.deepEqual(await bad.json(), failure(400, 'headers/x-tenant must match pattern "^[a-z]+$"', 'FST_ERR_VALIDATION'))
})

test('a response the schema cannot write answers a logged 500; answers that are not JSON pass unchanged', async () => {
  const broken = await send('/broken')
  assert.equal(broken.status, 500)
  assert.deepEqual(await broken.json(), failure(500, 'Internal Server Error'))
  const text = await send('/text')
  assert.equal(text.headers.get('content-type'), 'text/plain; charset=utf-8')
  assert.equal(await text.text(), 'not JSON, sent as it is')
  // The server goes on serving.
  assert.equal((await send('/users/1')).status, 200)
})

test('a constant answer behind a schema is still validated', async () => {
  assert.equal(await (await send('/constant/3')).text(), 'constant')
  assert.equal((await send('/constant/x')).status, 400)
})

test('route({ method: [...], url, schema, handler }) and schemas in a scope', async () => {
  for (const method of ['PUT', 'PATCH']) {
    const res = await postJson('/items/5', { n: '2.5' }, method)
    assert.equal(res.status, 200, method)
    assert.deepEqual(await res.json(), { id: 5, n: 2.5, method })
  }
  assert.equal((await postJson('/items/5', {}, 'PUT')).status, 400)
  assert.equal((await send('/items/5')).status, 405)

  assert.deepEqual(await (await postJson('/api/things', [1, 2, '3'])).json(), { sum: 6 })
  const tooMany = await postJson('/api/things', [1, 2, 3, 4])
  assert.equal(tooMany.status, 400)
  assert.deepEqual(await tooMany.json(), failure(400, 'body must NOT have more than 3 items', 'FST_ERR_VALIDATION'))
})

test('the error handler sees the validation errors and may answer otherwise (a 422)', async () => {
  const seen = []
  const strict = App.new()
    .post('/p', { schema: { body: { type: 'object', required: ['a'] } } }, (req) => req.json())
    .setErrorHandler((err) => {
      seen.push(err)
      return err.validation ? HttpResponse.json({ detail: err.validation.map((e) => e.message), in: err.validationContext }, 422) : undefined
    })
  const res = await strict.inject({ method: 'POST', url: '/p', body: {} })
  assert.equal(res.statusCode, 422)
  assert.deepEqual(res.json(), { detail: ["must have required property 'a'"], in: 'body' })
  assert.ok(seen[0] instanceof HttpError)
  assert.equal(seen[0].statusCode, 400)
  assert.equal(seen[0].code, 'FST_ERR_VALIDATION')
  assert.deepEqual((await strict.inject({ method: 'POST', url: '/p', body: { a: 1 } })).json(), { a: 1 })
})

test('schemas that cannot work throw when the route is added or the app starts, naming the route', async () => {
  const handler = () => 1
  const atRoute = [
    [() => App.new().get('/x', { schema: { bdy: {} } }, handler), /GET \/x: unknown schema part "bdy"/],
    [() => App.new().get('/x', { schema: 5 }, handler), /GET \/x: schema must be an object/],
    [() => App.new().get('/x', { schema: { body: [] } }, handler), /GET \/x: schema.body must be an object/],
    [() => App.new().get('/x', { schma: {} }, handler), /unknown option "schma"/],
    [() => App.new().route({ method: 'GET', handler, url: '/x', verb: 'GET' }), /unknown option "verb"/],
    [() => App.new().route({ method: [], url: '/x', handler }), /method must be a method name/],
    [() => App.new().addSchema({ type: 'object' }), /pass a JSON Schema with an \$id/],
    [() => App.new().addSchema(user).addSchema(user), /\$id "user" was added before/]
  ]
  for (const [add, error] of atRoute) assert.throws(add, error)

  const atStart = [
    [App.new().post('/x', { schema: { body: { $ref: 'nope#' } } }, handler), /POST \/x: schema.body does not compile: can't resolve reference nope#/],
    [App.new().get('/x', { schema: { params: { type: 'object', properties: { id: { type: 'integr' } } } } }, handler), /GET \/x: schema.params does not compile/],
    // No properties shorthand, as in Fastify 5: Ajv refuses the unknown keyword.
    [App.new().get('/x', { schema: { querystring: { limit: { type: 'integer' } } } }, handler), /GET \/x: schema.querystring does not compile: strict mode: unknown keyword: "limit"/],
    [App.new().get('/x', { schema: { response: { ok: {} } } }, handler), /GET \/x: schema.response keys are statuses/],
    [App.new().get('/x', { schema: { response: { 200: 5 } } }, handler), /GET \/x: schema.response\["200"\] must be an object/]
  ]
  for (const [bad, error] of atStart) {
    await assert.rejects(bad.listen(0), error)
    await assert.rejects(bad.inject('/x'), error)
  }
})

test('schema.query is schema.querystring, as Fastify aliases it; giving both throws', async () => {
  const aliased = App.new().get('/q', { schema: { query: { type: 'object', properties: { n: { type: 'integer', default: 1 } } } } }, (req) => req.query)
  assert.deepEqual((await aliased.inject('/q?n=5')).json(), { n: 5 })
  assert.deepEqual((await aliased.inject('/q')).json(), { n: 1 })
  const bad = await aliased.inject('/q?n=x')
  assert.deepEqual([bad.statusCode, bad.json()], [400, failure(400, 'querystring/n must be integer', 'FST_ERR_VALIDATION')])
  assert.throws(() => App.new().get('/q', { schema: { query: {}, querystring: {} } }, () => 1), /GET \/q: give schema.querystring or schema.query, not both/)
})

test('routes without a schema read raw strings, as before', async () => {
  const plain = App.new().get('/n/:id', (req) => ({ id: req.params.id, q: req.query }))
  assert.deepEqual((await plain.inject('/n/7?a=1')).json(), { id: '7', q: { a: '1' } })
})
