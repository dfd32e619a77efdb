'use strict'
// Route schemas, as Fastify has them: JSON Schema for a route's params, querystring, headers
// and body, checked with Ajv (the validator Fastify uses, with Fastify's options), and
// response schemas that serialize a handler's answer with fast-json-stringify (Fastify's
// serializer): only the properties a schema lists are sent.
//
// Both libraries are loaded when the first schema is compiled: an app without schemas does
// not pay for them.

const { coded } = require('./http-error.js')

const PARTS = ['params', 'body', 'querystring', 'headers']
// `query` is Fastify's other name for `querystring`.
const SCHEMA_KEYS = new Set([...PARTS, 'query', 'response'])
// What @fastify/swagger reads from a route schema to document it: accepted (so Fastify routes
// register unchanged) and not used here, which makes no OpenAPI document.
const DOC_KEYS = new Set(['tags', 'summary', 'description', 'security', 'operationId', 'deprecated', 'hide', 'consumes', 'produces', 'externalDocs', 'callbacks'])

/** Fastify's Ajv options: coerce strings to the declared types, fill defaults, drop unlisted properties. */
const AJV_OPTIONS = { coerceTypes: 'array', useDefaults: true, removeAdditional: true, allErrors: false }

/**
 * A handler with a schema. Its schema is checked when it is added to a path (`at`), and
 * compiled when its app is (`listen()`, `inject()`), with the app's shared schemas
 * (`addSchema`) known.
 */
class Validated {
  constructor (handler, schema, where = null) {
    this.handler = handler
    this.schema = schema
    this.where = where
  }

  /** The same handler and schema on a route, which errors name (`'POST /users'`); throws for a malformed schema. */
  at (where) {
    checkSchema(this.schema, where)
    let schema = this.schema
    // Fastify's alias: `query` is the querystring's schema.
    if (schema.query !== undefined) {
      if (schema.querystring !== undefined) throw new TypeError(`${where}: give schema.querystring or schema.query, not both`)
      const { query, ...rest } = schema
      schema = { ...rest, querystring: query }
    }
    return new Validated(this.handler, schema, where)
  }

  /** The handler that validates, then calls the user's, then serializes; throws what cannot compile, naming the route. */
  compile (compiler, wrap) {
    const { schema, where, handler } = this
    const checks = []
    for (const part of PARTS) {
      if (schema[part] === undefined) continue
      let validate
      try {
        validate = compiler.validator(part === 'headers' ? headersSchema(schema.headers) : schema[part])
      } catch (err) {
        throw new Error(`${where}: schema.${part} does not compile: ${err.message}`, { cause: err })
      }
      checks.push(CHECKS[part](validate))
    }
    let serialize = null
    if (schema.response !== undefined) {
      serialize = responseSerializers(compiler, schema.response, where)
    }
    return wrap(checks, handler, serialize)
  }
}

/** Throws a TypeError unless `schema` is an object of the known parts, each an object. */
function checkSchema (schema, where) {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw new TypeError(`${where}: schema must be an object like { body: { type: 'object' } }`)
  }
  for (const [key, value] of Object.entries(schema)) {
    if (DOC_KEYS.has(key)) continue
    if (!SCHEMA_KEYS.has(key)) {
      throw new TypeError(`${where}: unknown schema part ${JSON.stringify(key)} (known: ${[...SCHEMA_KEYS].join(', ')})`)
    }
    if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      throw new TypeError(`${where}: schema.${key} must be an object (a JSON Schema), got ${Array.isArray(value) ? 'an array' : String(value)}`)
    }
  }
}

/**
 * A headers schema as it is checked: header names are lower case on the wire, so its
 * property names are too. (Full schemas only, as in Fastify 5: no properties shorthand.)
 */
function headersSchema (schema) {
  const out = { ...schema }
  if (out.properties !== null && typeof out.properties === 'object') {
    out.properties = Object.fromEntries(Object.entries(out.properties).map(([k, v]) => [k.toLowerCase(), v]))
  }
  if (Array.isArray(out.required)) out.required = out.required.map((k) => String(k).toLowerCase())
  return out
}

/**
 * The error a failed check throws: a `400` whose message says what is wrong
 * (`body/age must be integer`), with Ajv's errors in `validation`, as Fastify's.
 */
function validationError (context, errors) {
  const message = errors.map((e) => `${context}${e.instancePath} ${e.message}`).join(', ')
  const err = coded(400, 'FST_ERR_VALIDATION', message)
  err.validation = errors
  err.validationContext = context
  return err
}

// Each check validates one part of `req` (coercing and defaulting it in place), and keeps the
// result where the handler reads that part; it throws a `400` if the part does not match.
const CHECKS = {
  params: (validate) => (req) => {
    const params = req.params
    if (!validate(params)) throw validationError('params', validate.errors)
    Object.defineProperty(req, 'params', { value: params, enumerable: true })
  },
  querystring: (validate) => (req) => {
    const query = req.query
    if (!validate(query)) throw validationError('querystring', validate.errors)
  },
  headers: (validate) => (req) => {
    const headers = req.headers
    if (!validate(headers)) throw validationError('headers', validate.errors)
    Object.defineProperty(req, 'headers', { value: headers, enumerable: true })
  },
  body: (validate) => (req) => {
    // An empty body is no body (`undefined`), which a schema of a type refuses.
    const body = req.rawBody.length === 0 ? undefined : req.json()
    // Ajv coerces and fills defaults through the parent object: give it one.
    const holder = { body }
    const ok = validate(body, { instancePath: '', parentData: holder, parentDataProperty: 'body', rootData: holder })
    if (!ok) throw validationError('body', validate.errors)
    req._json = holder.body
  }
}

/**
 * The serializers of a response schema `{ 200: schema, '4xx': schema, default: schema }`, as a
 * function from a status to a serializer (or undefined): the exact status first, then its
 * class, then `default`.
 */
function responseSerializers (compiler, response, where) {
  const byStatus = new Map()
  for (const [key, schema] of Object.entries(response)) {
    if (!/^([1-5]\d\d|[1-5]xx|default)$/i.test(key)) {
      throw new TypeError(`${where}: schema.response keys are statuses like 200, '2xx' or 'default', got ${JSON.stringify(key)}`)
    }
    if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
      throw new TypeError(`${where}: schema.response[${JSON.stringify(key)}] must be an object (a JSON Schema)`)
    }
    try {
      byStatus.set(key.toLowerCase(), compiler.serializer(schema))
    } catch (err) {
      throw new Error(`${where}: schema.response[${JSON.stringify(key)}] does not compile: ${err.message}`, { cause: err })
    }
  }
  return (status) => byStatus.get(String(status)) ?? byStatus.get(`${Math.floor(status / 100)}xx`) ?? byStatus.get('default')
}

/**
 * One app's schema compiler: an Ajv instance with the app's shared schemas, and
 * fast-json-stringify with the same ones for `$ref`s in response schemas.
 */
class SchemaCompiler {
  constructor (shared) {
    this.shared = shared
    this._ajv = null
    // The shared schemas by `$id`, as fast-json-stringify takes them.
    this._refs = Object.fromEntries(shared.map((s) => [s.$id, s]))
  }

  validator (schema) {
    if (this._ajv === null) {
      const Ajv = require('ajv')
      const addFormats = require('ajv-formats')
      const ajv = new Ajv(AJV_OPTIONS)
      addFormats(ajv)
      for (const s of this.shared) ajv.addSchema(s)
      this._ajv = ajv
    }
    return this._ajv.compile(schema)
  }

  serializer (schema) {
    const build = require('fast-json-stringify')
    return build(schema, { schema: this._refs })
  }
}

/** Throws unless `schema` can be shared: an object with a string `$id` not yet taken. */
function checkShared (schema, shared) {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema) || typeof schema.$id !== 'string' || schema.$id === '') {
    throw new TypeError("addSchema(schema): pass a JSON Schema with an $id, like { $id: 'user', type: 'object', ... }")
  }
  if (shared.some((s) => s.$id === schema.$id)) throw new Error(`addSchema: a schema with $id ${JSON.stringify(schema.$id)} was added before`)
}

module.exports = { Validated, SchemaCompiler, checkShared }
