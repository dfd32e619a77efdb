'use strict'
// @armature/core: the JS face of Armature. Routing, the preset layers (request id → logger →
// CORS → rate limits) and the HTTP server run in Rust (the native addon built from ../src);
// this file only registers routes, runs the user's handlers and middleware, and translates
// their answers.

const native = require('../index.js')
const { HttpError, coded } = require('./http-error.js')
const secureJson = require('secure-json-parse')
const { errno: osErrno } = require('node:os').constants
const fs = require('node:fs')
const { STATUS_CODES } = require('node:http')
const { Validated, SchemaCompiler, checkShared } = require('./schema.js')

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']
const TEXT = 'text/plain; charset=utf-8'
const JSON_TYPE = 'application/json; charset=utf-8'
const OCTETS = 'application/octet-stream'

/** A status as given (a number, or a string of one, as Fastify's `reply.code('201')` takes). */
const statusCode = (status) => typeof status === 'string' ? Number(status) : status

/** A response: status, headers and a string or Buffer body. */
class HttpResponse {
  constructor (body = null, init) {
    init ??= {}
    this.statusCode = statusCode(init.status ?? 200)
    this.contentType = init.contentType ?? null
    this.headerList = null
    this.payload = body === null || typeof body === 'string' ? body : toBuffer(body)
    // The value `json()` was given, for a route's response schema to serialize.
    this.jsonValue = undefined
    if (init.headers) this.headers(init.headers)
  }

  static ok (body) { return body == null ? new HttpResponse() : HttpResponse.text(body) }
  static text (text, status = 200) {
    // The text set after construction: the constructor's check of what a body may be is for
    // bodies from outside, and the hot path of `text()` does not need it.
    const res = new HttpResponse(null, { status, contentType: TEXT })
    res.payload = String(text)
    return res
  }
  static json (value, status = 200) { return new HttpResponse(null, { status }).json(value) }
  static buffer (buffer, status = 200) { return new HttpResponse(toBuffer(buffer), { status, contentType: OCTETS }) }
  static status (status) { return new HttpResponse(null, { status }) }

  /** Sets the status (chainable). */
  status (status) { this.statusCode = statusCode(status); return this }
  /**
   * Sets a header (chainable), as Fastify's `reply.header`: it replaces a header of the same
   * name (in any case), except `Set-Cookie`, which adds one more. An array sends one header
   * per value (`Set-Cookie` must never be joined into one line). `Content-Type` sets the
   * response's content type.
   */
  header (name, value) {
    if (value === undefined || value === null) throw new TypeError(`header ${String(name)}: no value (${value})`)
    name = String(name)
    const lower = name.toLowerCase()
    if (lower === 'content-type') {
      this.contentType = fieldValue(name, Array.isArray(value) ? value[value.length - 1] : value)
      return this
    }
    let list = this.headerList
    if (!Array.isArray(value)) value = fieldValue(name, value)
    else value = value.map((one) => fieldValue(name, one))
    if (list === null) list = this.headerList = []
    else if (lower !== 'set-cookie') this.removeHeader(lower)
    if (!Array.isArray(value)) list.push(name, value)
    else for (const one of value) list.push(name, one)
    return this
  }

  /** A header's value: a string, an array when it is sent more than once, or `undefined`. */
  getHeader (name) {
    const lower = String(name).toLowerCase()
    if (lower === 'content-type') return this.contentType ?? undefined
    const values = []
    const list = this.headerList ?? []
    for (let i = 0; i < list.length; i += 2) if (list[i].toLowerCase() === lower) values.push(list[i + 1])
    return values.length === 0 ? undefined : values.length === 1 ? values[0] : values
  }

  /** Whether the header is set. */
  hasHeader (name) { return this.getHeader(name) !== undefined }

  /** Removes every header of that name (chainable). */
  removeHeader (name) {
    const lower = String(name).toLowerCase()
    if (lower === 'content-type') {
      this.contentType = null
      return this
    }
    const list = this.headerList
    if (list === null) return this
    let kept = 0
    for (let i = 0; i < list.length; i += 2) {
      if (list[i].toLowerCase() === lower) continue
      list[kept++] = list[i]
      list[kept++] = list[i + 1]
    }
    list.length = kept
    return this
  }

  /** Adds headers from an object or `[name, value]` pairs (chainable). */
  headers (headers) {
    for (const [name, value] of Array.isArray(headers) ? headers : Object.entries(headers)) this.header(name, value)
    return this
  }

  text (text) { this.payload = String(text); this.contentType = TEXT; this.jsonValue = undefined; return this }
  json (value) { this.payload = jsonText(value); this.contentType = JSON_TYPE; this.jsonValue = value; return this }
  /**
   * Sets the body: text or bytes. As Fastify's `reply.send`, without a content type set it
   * gets text's (`text/plain; charset=utf-8`) or bytes' (`application/octet-stream`).
   */
  send (body) {
    const text = typeof body === 'string'
    this.payload = text ? body : toBuffer(body)
    this.jsonValue = undefined
    this.contentType ??= text ? TEXT : OCTETS
    return this
  }
}

// What Node's http refuses in a header value (its checkInvalidHeaderChar): control characters
// but tab, and anything above U+00FF. The rest is sent as Latin-1, one byte a character, as
// Node sends it (`é` is the byte 0xE9).
const INVALID_FIELD_CHAR = /[^\t\x20-\x7e\x80-\xff]/

/**
 * `value` as the text of header `name`; throws Node's TypeError (`ERR_INVALID_CHAR`, naming the
 * header) for a character HTTP cannot carry in it, as `res.setHeader` does.
 */
function fieldValue (name, value) {
  value = String(value)
  if (INVALID_FIELD_CHAR.test(value)) {
    const err = new TypeError(`Invalid character in header content [${JSON.stringify(name)}]`)
    err.code = 'ERR_INVALID_CHAR'
    throw err
  }
  return value
}

/** Bytes as a Buffer over the same memory: a Buffer, any typed array or DataView, an ArrayBuffer. */
function toBuffer (body) {
  if (Buffer.isBuffer(body)) return body
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (body instanceof ArrayBuffer || body instanceof SharedArrayBuffer) return Buffer.from(body)
  throw new TypeError('a body must be a string, a Buffer, a typed array or an ArrayBuffer')
}

function isBytes (value) {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer
}

/** `value` as JSON text; throws for what JSON cannot say (undefined, a function, a symbol) and for streams. */
function jsonText (value) {
  if (value !== null && typeof value === 'object' && (typeof value.pipe === 'function' || typeof value.getReader === 'function')) {
    throw new TypeError('a stream cannot be sent: read it into a Buffer or a string first')
  }
  const text = JSON.stringify(value)
  if (text === undefined) throw new TypeError(`${typeof value} cannot be sent as JSON`)
  return text
}

// Web `Response` and `Blob` (globals since Node 18), which handlers may return as in Fastify 5.
const WebResponse = globalThis.Response
const WebBlob = globalThis.Blob

/** Whether `value` is a web `Response` or `Blob`: asked of objects only, off the plain-value path. */
function isWeb (value) {
  return (WebResponse !== undefined && value instanceof WebResponse) || (WebBlob !== undefined && value instanceof WebBlob)
}

// Headers of a web Response not sent on: the server frames the body itself (a copied
// `Content-Length` of a decoded body would be wrong), and the connection ones are hop-by-hop.
const NOT_FORWARDED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive'])
// The content codings `fetch` decodes: a fetched body no longer has them.
const FETCH_DECODES = new Set(['gzip', 'x-gzip', 'deflate', 'br', 'zstd'])

/**
 * A web `Response` (its status, headers and body; `Set-Cookie` values stay separate headers)
 * or a `Blob` (its bytes and type) as an HttpResponse, once the body is read.
 */
async function fromWeb (value) {
  if (!(value instanceof WebResponse)) {
    return new HttpResponse(Buffer.from(await value.arrayBuffer()), { contentType: value.type || OCTETS })
  }
  const headers = value.headers
  const res = new HttpResponse(value.body === null ? null : Buffer.from(await value.arrayBuffer()), { status: value.status })
  // Node before 18.14 (no getSetCookie) iterates each Set-Cookie separately already.
  const cookies = typeof headers.getSetCookie === 'function' ? headers.getSetCookie() : null
  // A response `fetch` made (type 'basic' or 'cors', never 'default') has a decoded body.
  const encoding = headers.get('content-encoding')
  const decoded = value.type !== 'default' && encoding !== null &&
    encoding.split(',').every((coding) => FETCH_DECODES.has(coding.trim().toLowerCase()))
  for (const [name, one] of headers) {
    if (NOT_FORWARDED.has(name) || (cookies !== null && name === 'set-cookie') || (decoded && name === 'content-encoding')) continue
    res.header(name, one)
  }
  if (cookies !== null) res.header('set-cookie', cookies)
  return res
}

/** What a handler returned, as an HttpResponse. */
function toResponse (value) {
  if (value instanceof HttpResponse) return value
  // `null` is JSON's `null`, as Fastify sends it; nothing at all is an empty `204`.
  if (value === undefined) return new HttpResponse(null, { status: 204 })
  if (typeof value === 'string') return HttpResponse.text(value)
  if (isBytes(value)) return HttpResponse.buffer(value)
  return HttpResponse.json(value)
}

/**
 * What a handler returned, as an HttpResponse middleware may change: a copy when the handler
 * returned one of its own, which may be a constant shared by every request.
 */
function ownResponse (value) {
  if (!(value instanceof HttpResponse)) {
    // A promise of one for a web Response or Blob (`next()` resolves to the HttpResponse).
    return value !== null && typeof value === 'object' && isWeb(value) ? fromWeb(value) : toResponse(value)
  }
  const copy = new HttpResponse(value.payload, { status: value.statusCode, contentType: value.contentType })
  if (value.headerList !== null) copy.headerList = value.headerList.slice()
  // A default 5xx answer stays one through every middleware: its error is logged when sent.
  if (isFailure(value)) copy.failure = value.failure
  return copy
}

/**
 * Whether `res` is a default 5xx answer, its `failure` the value thrown: `undefined` too
 * (`throw undefined`, `Promise.reject()`), so its presence, not its value, says so.
 */
function isFailure (res) {
  return Object.hasOwn(res, 'failure')
}

/**
 * The request a handler receives. Fields are read from Rust when first used; read them before
 * the response is sent (in middleware: before `await next()` returns, or keep what you need).
 */
class Request {
  constructor (calls, id, data) {
    this._calls = calls
    this._id = id
    this.data = data
    this._body = undefined
    this._query = undefined
    this._abort = undefined
    // The body as a route's schema validated it (`undefined` included: an empty body).
    this._json = UNPARSED
    this._cookies = undefined
    // The route's `config` option, set by the dispatcher before any middleware runs.
    this._config = undefined
  }

  /**
   * An `AbortSignal` aborted when the request is abandoned before the handler answers: the
   * client closed the connection or reset the stream, or the server stopped waiting at
   * shutdown. Pass it on (`fetch(url, { signal: req.signal })`) to stop work nobody will
   * read. Made on first use; an answer given after the abort is dropped.
   */
  get signal () {
    if (this._abort === undefined) {
      this._abort = new AbortController()
      if (this._calls.watch(this._id)) this._calls.watching.set(this._id, this._abort)
      else this._abort.abort(abandoned())
    }
    return this._abort.signal
  }

  get method () { return this._calls.method(this._id) }
  get url () { return this._calls.url(this._id) }
  get path () { return this._calls.path(this._id) }
  get params () { return this._calls.params(this._id) }
  get headers () { return this._calls.headers(this._id) }
  /** The client's IP address: the connection's peer (as Fastify's `request.ip` without `trustProxy`). */
  get ip () { return this._calls.ip(this._id) ?? undefined }
  /** The template of the route that matched, in the router's form (`'/users/:id'` is `'/users/{id}'`): the label the access log uses. */
  get route () { return this._calls.route(this._id) ?? undefined }
  /** Fastify's `request.routeOptions`: the route's `method`, `url` (its template) and `config` (`{}` when none). */
  get routeOptions () { return { method: this.method, url: this.route, config: this._config ?? {} } }
  /** The request id the preset's request-id layer gave this request. */
  get id () { return this._calls.header(this._id, 'x-request-id') }
  /** The query string as an object; a repeated key's values are an array of them, as in Fastify. */
  get query () {
    if (this._query === undefined) {
      const raw = this._calls.query(this._id)
      this._query = raw ? queryObject(raw) : {}
    }
    return this._query
  }

  /**
   * The cookies the client sent, by name (as `@fastify/cookie`'s `request.cookies`): values
   * percent-decoded when they decode, surrounding quotes removed, the first of a repeated name
   * kept.
   */
  get cookies () {
    if (this._cookies === undefined) this._cookies = cookieObject(this.header('cookie'))
    return this._cookies
  }

  param (name) { return this._calls.param(this._id, name) ?? undefined }
  header (name) { return this._calls.header(this._id, name) ?? undefined }
  /**
   * The body: on a route with a body schema, the value the schema validated (as Fastify's
   * `request.body`); elsewhere the bytes, as `rawBody`.
   */
  get body () { return this._json !== UNPARSED ? this._json : this.rawBody }

  /** The body as a Buffer over the bytes Rust received (not copied into the JS heap). */
  get rawBody () {
    if (this._body === undefined) this._body = this._calls.body(this._id)
    return this._body
  }

  text () { return this.rawBody.toString('utf8') }

  /**
   * The body parsed as JSON. Throws an `HttpError` that answers `415` unless its
   * `Content-Type` is `application/json` or `…+json` (as Fastify: a `text/plain` body, or one
   * with no type, is what a cross-site form or a `no-cors` fetch can send without a CORS
   * preflight, so reading it as JSON would open the app to cross-site requests), and `400` when the body is
   * not valid JSON (an empty body included), or holds a `__proto__` or `constructor.prototype`
   * key (as Fastify refuses them by default: merged into another object with `Object.assign`
   * or a deep merge, they would change its prototype). On a route with a body schema, it is
   * the body as validated: coerced, with defaults filled in and unlisted properties removed
   * (`undefined` for an empty body the schema allows).
   */
  json () {
    if (this._json !== UNPARSED) return this._json
    const type = this.header('content-type')
    if (type === undefined ? this.rawBody.length !== 0 : !isJsonType(type)) {
      throw coded(415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE', `expected a JSON body (Content-Type: application/json), got ${type === undefined ? 'no Content-Type' : `Content-Type: ${type}`}`)
    }
    const text = this.text()
    try {
      return secureJson.parse(text, null, SECURE_JSON)
    } catch (err) {
      throw coded(400, text === '' ? 'FST_ERR_CTP_EMPTY_JSON_BODY' : 'FST_ERR_CTP_INVALID_JSON_BODY', `malformed JSON body: ${err.message}`)
    }
  }
}

// `Request._json` before a schema validated the body.
const UNPARSED = Symbol('unparsed')
// Fastify's defaults: a body with a `__proto__` or `constructor.prototype` key is refused.
const SECURE_JSON = { protoAction: 'error', constructorAction: 'error' }

/**
 * Sets `obj[key]` as an own data property: a key from the client such as `__proto__` is then
 * just a key, never the object's prototype.
 */
function setOwn (obj, key, value) {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true })
}

/**
 * `a=1&b=2&b=3` as `{ a: '1', b: ['2', '3'] }`, in one pass. `+` is a space; a key or value
 * whose percent-encoding is not UTF-8 is kept as sent (`%FF`), as Fastify's querystring
 * parser keeps it, rather than turned into U+FFFD.
 */
function queryObject (raw) {
  const query = {}
  for (const pair of raw.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const key = queryText(eq < 0 ? pair : pair.slice(0, eq))
    const value = eq < 0 ? '' : queryText(pair.slice(eq + 1))
    if (!Object.hasOwn(query, key)) setOwn(query, key, value)
    else if (Array.isArray(query[key])) query[key].push(value)
    else setOwn(query, key, [query[key], value])
  }
  return query
}

/** One key or value of a query string, decoded: `+` a space, `%XX` as UTF-8, or as sent. */
function queryText (text) {
  const spaced = text.includes('+') ? text.replaceAll('+', ' ') : text
  if (!spaced.includes('%')) return spaced
  try {
    return decodeURIComponent(spaced)
  } catch {
    return spaced
  }
}

/** A `Cookie` header's `name=value` pairs as an object (RFC 6265 section 5.4, as the `cookie` package reads them). */
function cookieObject (header) {
  const cookies = {}
  if (header === undefined) return cookies
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=')
    if (eq < 0) continue
    const name = pair.slice(0, eq).trim()
    if (name === '' || Object.hasOwn(cookies, name)) continue
    let value = pair.slice(eq + 1).trim()
    if (value.length >= 2 && value[0] === '"' && value[value.length - 1] === '"') value = value.slice(1, -1)
    if (value.includes('%')) {
      try { value = decodeURIComponent(value) } catch {}
    }
    setOwn(cookies, name, value)
  }
  return cookies
}

/** The reason a request's signal gives when it is abandoned. */
function abandoned () {
  return new DOMException('the request was abandoned: its client went away before the answer', 'AbortError')
}

/** Whether a `Content-Type` is JSON's: `application/json` or `application/…+json`. */
function isJsonType (value) {
  const type = value.split(';', 1)[0].trim().toLowerCase()
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))
}

/** Rust takes the status as a u32, which would wrap 2**32 + 200 and truncate 200.5; the rest of the checks are Rust's. */
function checkStatus (status) {
  if (!Number.isInteger(status) || status < 0 || status > 999) throw new TypeError(`invalid status ${String(status)}`)
}

function isThenable (value) {
  return value !== null && typeof value === 'object' && typeof value.then === 'function'
}

/** What is logged for a thrown value; never throws (a getter of the value may). */
function errorMessage (err) {
  try {
    if (err instanceof Error) {
      const stack = err.stack
      if (typeof stack === 'string' && stack !== '') return stack
    }
    return String(err)
  } catch {
    try { return Object.prototype.toString.call(err) } catch { return 'a value that cannot be printed' }
  }
}

/** The 4xx or 5xx status a thrown value asks for (`statusCode` or `status`), or 0; never throws. */
function errorStatus (err) {
  try {
    if (err === null || (typeof err !== 'object' && typeof err !== 'function')) return 0
    const status = err.statusCode ?? err.status
    return Number.isInteger(status) && status >= 400 && status <= 599 ? status : 0
  } catch {
    return 0
  }
}

// A header name (RFC 9110 token).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * The headers an error asks for its answer (`err.headers`, as http-errors and Fastify make them,
 * e.g. `{ 'www-authenticate': 'Bearer' }`) as name, value pairs, or undefined; never throws.
 * Content-Type and Content-Length are the answer's own (JSON).
 */
function errorHeaders (err) {
  try {
    const headers = err.headers
    if (headers === null || typeof headers !== 'object') return undefined
    const res = new HttpResponse()
    for (const [name, value] of Array.isArray(headers) ? headers : Object.entries(headers)) {
      // A header that could not be sent (a value `header()` refuses: a control character, one
      // above U+00FF) is left out, as Rust leaves it out of a 5xx, rather than failing the
      // whole answer. Content-Type (the answer's own JSON) goes to `contentType`, unused.
      try {
        if (TOKEN.test(name) && name.toLowerCase() !== 'content-length') res.header(name, value)
      } catch {}
    }
    return res.headerList === null || res.headerList.length === 0 ? undefined : res.headerList
  } catch {
    return undefined
  }
}

/**
 * The message a client error shows: its own (an empty one too, as Fastify), else the status's
 * reason phrase; never throws.
 */
function clientErrorMessage (err, status) {
  try {
    const message = err.message
    if (typeof message === 'string') return message
  } catch {}
  return STATUS_CODES[status] ?? String(status)
}

/** A thrown value's own `code` (as Node's and Fastify's errors carry), if a string; never throws. */
function errorCode (err) {
  try {
    const code = err.code
    return typeof code === 'string' && code !== '' ? code : undefined
  } catch {
    return undefined
  }
}

/**
 * The body of every error answer, Fastify's shape: `{ statusCode, code?, error, message }`,
 * `error` the status's reason phrase. (The Rust side writes the same, see `response::error`.)
 */
function errorBody (statusCode, message, code) {
  const error = STATUS_CODES[statusCode] ?? 'Error'
  return code === undefined ? { statusCode, error, message } : { statusCode, code, error, message }
}

/**
 * What an error handler returned, as its answer: an `HttpResponse` (or web Response) and an
 * `Error` as they are; any other value (an object, a string) with the error's status (`500`
 * when it has none), as Fastify's reply keeps the error's status for the error handler's
 * payload. Never throws: a value that cannot be sent (a BigInt in it) gives the error that
 * says so, answered as thrown.
 */
function withErrorStatus (value, err) {
  if (value instanceof HttpResponse || value instanceof Error || value === undefined) return value
  if (value !== null && typeof value === 'object' && isWeb(value)) return value
  try {
    const res = toResponse(value)
    res.statusCode = errorStatus(err) || 500
    return res
  } catch (unsendable) {
    return unsendable instanceof Error ? unsendable : new TypeError(String(unsendable))
  }
}

/**
 * `err` through the error handlers `chain` from `k` on (nearest first), as Fastify's
 * encapsulated error handlers: the first to return an answer gives it to `answer` (with the
 * error's status unless it is an `HttpResponse`, see `withErrorStatus`); one that throws (or
 * rejects, or returns an `Error`) hands that error to the next, and one that returns
 * `undefined` (or the error itself) hands the error on as it was; past the last, `fallback`
 * gets the error (the default answer). Returns what `answer` or `fallback` returns, or a
 * promise of it once a handler's promise settles. Never throws (unless they do).
 */
function handleError (chain, k, err, req, answer, fallback) {
  if (k === chain.length) return fallback(err)
  const next = (value) => {
    if (value === undefined) return handleError(chain, k + 1, err, req, answer, fallback)
    const res = withErrorStatus(value, err)
    return res instanceof Error ? handleError(chain, k + 1, res, req, answer, fallback) : answer(res)
  }
  const rejected = (thrown) => handleError(chain, k + 1, thrown, req, answer, fallback)
  let out
  try {
    out = chain[k](err, req)
    // Inside the `try`: reading `then` may throw, as in the dispatcher.
    if (isThenable(out)) return Promise.resolve(out).then(next, rejected)
  } catch (thrown) {
    return rejected(thrown)
  }
  return next(out)
}

/** The default answer to a path no route matches, Fastify's: `Route GET:/nope not found`. */
function notFound (req) {
  return HttpResponse.json(errorBody(404, `Route ${req.method}:${req.url} not found`), 404)
}

// In place of a handler number in a batch: the request, whose signal was asked for, was abandoned.
const ABANDONED = 0xFFFFFFFF

// The content types `respond` knows by number (anything else crosses as a string).
const CONTENT_CODES = new Map([[TEXT, 1], [JSON_TYPE, 2], [OCTETS, 3]])

/**
 * The function Rust wakes when requests wait for JS: it takes them in batches of `id, handler`
 * pairs and runs their handlers; nothing thrown here may escape into Rust.
 */
function makeDispatch (calls, handlers, middleware, data, errorHandlers, scoped, configs) {
  const { take, respond: respondNative, fail: failNative } = calls
  // The abort controllers of requests whose handlers asked for `req.signal`, by id.
  const watching = calls.watching = new Map()
  // An answered request's signal can no longer abort.
  const forget = (id) => { if (watching.size !== 0) watching.delete(id) }
  const respond = (id, status, type, body, headers) => {
    forget(id)
    if (headers === undefined) respondNative(id, status, type, body)
    else respondNative(id, status, type, body, headers)
  }
  const ids = new Uint32Array(1024)
  // The default answer to a thrown value. A client error (4xx) is the client's to read:
  // `{ statusCode, code?, error, message }`, as Fastify's. Anything else is a failure, logged
  // when it is sent (see `deliver`) and answered with the same shape but a generic message
  // (the reason phrase; Rust writes the same body), keeping the error's `code`: the error's own
  // 5xx status, or 500. An error with its
  // own status sends its `headers` too (a 401's `WWW-Authenticate`, a 503's `Retry-After`), as
  // in Fastify. Middleware may change it first (`next()` resolves to it, see `errorAnswer`).
  const defaultAnswer = (err) => {
    const status = errorStatus(err)
    const client = status >= 400 && status < 500
    const answered = status || 500
    const message = client ? clientErrorMessage(err, status) : STATUS_CODES[answered] ?? 'Internal Server Error'
    const res = HttpResponse.json(errorBody(answered, message, errorCode(err)), answered)
    const headers = status === 0 ? undefined : errorHeaders(err)
    if (headers !== undefined) res.headerList = headers
    if (!client) res.failure = err
    return res
  }
  // Hands an answer to Rust; a failure is logged there, with its status and headers.
  const deliver = (id, res) => {
    const headers = res.headerList
    if (isFailure(res)) {
      forget(id)
      // The body Rust writes: the status's reason phrase, the error's code (as middleware saw).
      failNative(id, errorMessage(res.failure), res.statusCode, headers, errorCode(res.failure) ?? null, STATUS_CODES[res.statusCode] ?? null)
      return
    }
    const type = res.contentType
    const code = type === null ? 0 : CONTENT_CODES.get(type) ?? type
    if (headers === null) respond(id, res.statusCode, code, res.payload)
    else respond(id, res.statusCode, code, res.payload, headers)
  }
  const fail = (id, err) => deliver(id, defaultAnswer(err))
  // A handler's answer that cannot be sent (a circular object, a BigInt, a bad status) is
  // an error its error handlers see, as one thrown (`req` and the handler's `index` given);
  // their own answer's failure is not given back to them.
  const send = (id, value, req, index) => {
    try {
      if (typeof value === 'string') {
        respond(id, 200, 1, value)
        return
      }
      if (value !== null && typeof value === 'object' && !(value instanceof HttpResponse)) {
        if (value instanceof Error) {
          // Returned rather than thrown: answered as thrown, as Fastify does.
          if (req === undefined) fail(id, value)
          else caught(id, value, req, index)
          return
        }
        if (isWeb(value)) {
          // Its body is read first; a failure to read it is the handler's error.
          fromWeb(value).then((res) => send(id, res, req, index), (err) => req === undefined ? fail(id, err) : caught(id, err, req, index))
          return
        }
      }
      const res = toResponse(value)
      checkStatus(res.statusCode)
      deliver(id, res)
    } catch (err) {
      if (req === undefined) fail(id, err)
      else caught(id, err, req, index)
    }
  }
  // The error handlers of each handler (by index), nearest first: its scopes' (the innermost
  // first), then the app's; `errorHandlers.app` for handlers outside any scope that has one.
  const { app: appErrors, scoped: scopedErrors } = errorHandlers
  const handlersOf = scopedErrors.length === 0 ? () => appErrors : (index) => scopedErrors[index] ?? appErrors
  const noErrorHandler = appErrors.length === 0 && scopedErrors.length === 0
  // What a handler threw: its error handlers' answer, or the default one.
  const caught = noErrorHandler
    ? (id, err) => fail(id, err)
    : (id, err, req, index) => {
        handleError(handlersOf(index), 0, err, req, (res) => send(id, res), (last) => fail(id, last))
      }
  // What `next()` resolves to when the handler (or middleware further in) threw: the error
  // handlers' answer, else the default one, so that middleware sees error answers as any
  // other (Fastify's `onSend` hooks run for them too); middleware that answers a default
  // failure with another response has handled it.
  const errorAnswer = noErrorHandler
    ? (err) => defaultAnswer(err)
    : (err, req, index) => handleError(handlersOf(index), 0, err, req, ownResponse, defaultAnswer)
  // The middleware of each handler: the app's, then its scopes' (outermost first), made once.
  const chains = []
  scoped.forEach((own, index) => { chains[index] = middleware.concat(own) })
  const around = (chain, handler, req, index) => {
    const step = (i) => i === chain.length
      ? handler(req)
      : chain[i](req, () => Promise.resolve().then(() => step(i + 1)).then(
        // An `Error` returned is answered as one thrown.
        (value) => value instanceof Error ? errorAnswer(value, req, index) : ownResponse(value),
        (err) => errorAnswer(err, req, index)))
    return step(0)
  }
  const run = middleware.length === 0 && chains.length === 0
    ? (handler, req) => handler(req)
    : (handler, req, index) => {
        const chain = chains[index] ?? middleware
        return chain.length === 0 ? handler(req) : around(chain, handler, req, index)
      }
  return function dispatch () {
    let n
    do {
      n = take(ids)
      for (let i = 0; i < n; i += 2) {
        const id = ids[i]
        if (ids[i + 1] === ABANDONED) {
          const controller = watching.get(id)
          watching.delete(id)
          // Node reports an exception thrown by a listener itself, as for any EventTarget.
          controller?.abort(abandoned())
          continue
        }
        let out
        const index = ids[i + 1]
        const req = new Request(calls, id, data)
        if (configs.length !== 0) req._config = configs[index]
        try {
          out = run(handlers[index], req, index)
          // Inside the `try`: reading `then` may throw (a Proxy, a getter), and so may a
          // thenable's own `then`; `Promise.resolve` turns the latter into a rejection.
          if (isThenable(out)) {
            Promise.resolve(out).then((value) => send(id, value, req, index), (err) => caught(id, err, req, index))
            continue
          }
        } catch (err) {
          caught(id, err, req, index)
          continue
        }
        send(id, out, req, index)
      }
    } while (n === ids.length)
  }
}

/**
 * Methods for one path: `get(list).post(create)`. Each method takes a handler, or route
 * options and a handler: `post({ schema: { body } }, create)`.
 */
class MethodRouter {
  constructor () { this.entries = [] }
  on (method, options, handler) {
    if (handler === undefined) {
      handler = options
      options = undefined
    }
    checkHandler(handler)
    method = String(method).toUpperCase()
    // Refused here, before any of the route's methods is registered.
    if (this.entries.some(([m]) => m === method)) throw new Error(`invalid route: ${method} is given twice`)
    if (options !== undefined) {
      checkOptions(options, ROUTE_OPTIONS, `${method} route options`, 'options must be an object like { schema: { body: {...} } }')
      if (options.config !== undefined) handler = withConfig(handler, options.config)
      // Checked on its path, compiled with the app's shared schemas when the app starts.
      if (options.schema !== undefined) handler = new Validated(handler, options.schema)
    }
    this.entries.push([method, handler])
    return this
  }

  all (options, handler) { return this.on('ALL', options, handler) }
}
for (const m of METHODS) MethodRouter.prototype[m.toLowerCase()] = function (options, handler) { return this.on(m, options, handler) }

const ROUTE_OPTIONS = new Set(['schema', 'config'])

/**
 * `handler` with Fastify's route `config` (`req.routeOptions.config`), which the dispatcher
 * puts on each of its requests before any middleware runs.
 */
function withConfig (handler, config) {
  if (config === null || typeof config !== 'object') throw new TypeError('route options: config must be an object')
  const constant = handler instanceof HttpResponse
  const configured = constant ? () => handler : (req) => handler(req)
  configured.routeConfig = config
  // Still answered in Rust when no middleware needs to see it (`register`).
  if (constant) configured.constantResponse = handler
  return configured
}

function checkHandler (handler) {
  if (typeof handler !== 'function' && !(handler instanceof HttpResponse)) {
    throw new TypeError('a handler must be a function (req) => response, or a constant HttpResponse')
  }
}

/**
 * A route's handler with its schema: validates the request's parts in turn (`400` for the first
 * that does not match), runs the handler, and serializes its answer with the response schema
 * for its status (`serializerFor`, or null without one).
 */
function validating (checks, handler, serializerFor) {
  const call = typeof handler === 'function' ? handler : () => handler
  const serialize = serializerFor === null ? null : (value) => serialized(value, serializerFor)
  return (req) => {
    for (const check of checks) check(req)
    const out = call(req)
    if (serialize === null) return out
    return isThenable(out) ? Promise.resolve(out).then(serialize) : serialize(out)
  }
}

/**
 * A handler's answer through a response schema: a JSON value (returned as is, or given to
 * `HttpResponse.json`) is sent as the schema for its status writes it; anything else as it is.
 */
function serialized (value, serializerFor) {
  if (value instanceof HttpResponse) {
    if (value.jsonValue === undefined) return value
    const serialize = serializerFor(value.statusCode)
    if (serialize === undefined) return value
    // Not in place: the handler may return a constant shared by every request.
    const copy = ownResponse(value)
    copy.payload = serialize(value.jsonValue)
    return copy
  }
  // An Error returned is answered as thrown, not written by the 200 schema.
  if (value === undefined || value === null || typeof value === 'string' || isBytes(value) || isWeb(value) || value instanceof Error) return value
  const serialize = serializerFor(200)
  return serialize === undefined ? value : new HttpResponse(serialize(value), { contentType: JSON_TYPE })
}

/**
 * Registers `methods` on `path`. A JS handler goes into `handlers`, the app's (or scope's) own
 * table, and Rust's route names it by its index there; the table lives as long as the app.
 */
function addRoute ({ _routes: routes, _handlers: handlers }, path, methods) {
  if (typeof path !== 'string') throw new TypeError('a route path must be a string like "/users/:id"')
  // Fastify's `*` and Express 5's `*name`; here either would be literal text that nothing
  // requests. `{*name}` is the only catch-all.
  if (path.replace(/\{\*[^}]*\}/g, '').includes('*')) {
    const name = /\*([A-Za-z0-9_-]+)/.exec(path)?.[1] ?? 'path'
    throw new Error(`invalid route: ${path}: a catch-all is written {*name}, like /files/{*${name}}`)
  }
  if (!(methods instanceof MethodRouter)) throw new TypeError('route(path, methods): methods come from get(handler), post(handler), ...')
  for (const [method, entry] of methods.entries) {
    const handler = entry instanceof Validated ? entry.at(`${method} ${path}`) : entry
    routing(() => register(handlers, handler,
      (res, index) => routes.addStatic(method, path, res.statusCode, res.contentType, res.headerList, res.payload, index),
      (index) => routes.addJs(method, path, index)))
  }
}

/**
 * Runs `add`, which gives the router a route (or a scope's routes); the router's error for a
 * method declared twice on one path gets Fastify's code (`FST_ERR_DUPLICATED_ROUTE`, its
 * message already Fastify's words), and every refused route keeps its message.
 */
function routing (add) {
  try {
    return add()
  } catch (err) {
    if (/^invalid route: Method '[^']*' already declared for route /.test(err.message)) {
      err.code = 'FST_ERR_DUPLICATED_ROUTE'
      err.statusCode = 500
    }
    throw err
  }
}

/**
 * Registers one handler: a constant `HttpResponse` through `constant(res, index)`, a JS handler
 * through `js(index)`; `index` is its place in `handlers`, where it goes once Rust took it. A
 * constant is answered in Rust, unless the app has JS middleware, which must see every request
 * (an auth check, say): then the handler at `index`, which returns the constant, answers.
 */
function register (handlers, handler, constant, js) {
  // A constant with a route `config` is a function returning it (`withConfig`).
  const response = handler instanceof HttpResponse ? handler : handler.constantResponse
  if (response instanceof HttpResponse) {
    checkStatus(response.statusCode)
    constant(response, handlers.length)
    handlers.push(typeof handler === 'function' ? handler : () => response)
  } else {
    js(handlers.length)
    handlers.push(handler)
  }
}

/** Routes under a prefix, mounted with `app.service(scope('/api/v1')...)`. */
class Scope {
  constructor (prefix) {
    if (typeof prefix !== 'string') throw new TypeError('scope(prefix): prefix must be a string like "/api/v1" (or "" for none)')
    this.prefix = prefix
    this._routes = new native.NativeRoutes()
    this._handlers = []
    // JS middleware of this scope's routes, and that of scopes mounted in it (by handler).
    this._middleware = []
    this._scoped = []
    // This scope's error handler, and those of scopes mounted in it (by handler, nearest
    // first).
    this._errorHandler = null
    this._errors = []
    // Async plugins registered on it, not yet mounted, and the first that failed.
    this._pending = []
    this._failed = undefined
    this._mounted = false
  }

  /**
   * JS middleware `async (req, next) => response` for this scope's routes only (those of
   * scopes mounted in it included), inside the app's: Fastify's hooks registered in a plugin.
   * The Rust layers (`Logger`, `Cors`, `RateLimit`) wrap the app, not a scope.
   */
  wrap (middleware) {
    this._change()
    if (typeof middleware !== 'function') {
      throw new TypeError('scope wrap(): pass a function (req, next) => response; Logger, Cors and RateLimit wrap the app')
    }
    this._middleware.push(middleware)
    return this
  }

  /**
   * Fastify's encapsulated `setErrorHandler`: `(err, req) => response` for what this scope's
   * routes (and its not-found handler, and the scopes mounted in it that set none of their
   * own) throw, their middleware included. What it throws, rejects with or returns as an
   * `Error` goes to the enclosing scope's error handler (the app's last), as does the error
   * when it returns `undefined`; past the app's, the default answer. Routes outside the scope
   * keep their own.
   */
  setErrorHandler (handler) {
    this._change()
    if (typeof handler !== 'function') throw new TypeError('setErrorHandler(handler): pass a function (err, req) => response')
    this._errorHandler = handler
    return this
  }

  /**
   * Answers the paths under this scope's prefix (`/v1/...`) that no route matches, as the
   * app's `setNotFoundHandler` answers the others: a handler `(req) => response` or a constant
   * `HttpResponse`, run with this scope's middleware and error handlers. Only a scope with a
   * prefix has one (as in Fastify); its nested scopes without their own use it.
   */
  setNotFoundHandler (handler) {
    this._change()
    if (this.prefix === '') {
      throw new Error("setNotFoundHandler: a scope without a prefix has no paths of its own; register its plugin with one ({ prefix: '/v1' })")
    }
    checkHandler(handler)
    register(this._handlers, handler,
      (res, index) => this._routes.fallbackStatic(res.statusCode, res.contentType, res.headerList, res.payload, index),
      (index) => this._routes.fallbackJs(index))
    return this
  }

  /** As `App.route`: `route(path, methods)` or `route({ method, url, schema, handler })`. */
  route (path, methods) {
    if (path !== null && typeof path === 'object' && methods === undefined) return this.route(...declaredRoute(path))
    this._change()
    addRoute(this, path, methods)
    return this
  }

  service (scope) { this._change(); nestScope(this, scope); return this }

  register (plugin, options) { return registerPlugin(this, plugin, options) }

  // Mounting copies the scope's routes: a later one would silently never be served.
  _change () {
    if (this._mounted) throw new Error(`scope ${this.prefix}: add its routes before mounting it with service()`)
  }
}

/**
 * Fastify's `register(plugin, { prefix })`, for plugins that add routes: `plugin(scope,
 * options)` fills a scope at `prefix` (none by default), with its own middleware (`wrap`) for
 * its routes only, which is mounted in `parent` once the plugin returns (an async plugin:
 * when it resolves; `listen()` and `inject()` wait for it). Returns `parent`.
 */
function registerPlugin (parent, plugin, options = {}) {
  if (typeof plugin !== 'function') throw new TypeError('register(plugin, options): plugin must be a function (scope, options) => ...')
  if (options === null || typeof options !== 'object') throw new TypeError('register(plugin, options): options must be an object like { prefix: "/v1" }')
  const prefix = options.prefix ?? ''
  const child = new Scope(typeof prefix === 'string' ? prefix.replace(/\/$/, '') : prefix)
  const mount = () => { parent.service(child) }
  const out = plugin(child, options)
  if (!isThenable(out) && child._pending.length === 0) {
    mount()
    return parent
  }
  // Once the plugin is done, and the plugins it registered are: a scope is mounted with all
  // its routes, and its parent (a scope, or the app before it compiles) waits for it.
  const done = Promise.resolve(out).then(() => settled(child)).then(mount)
  // Its failure is the app's to report (`ready()`, `listen()`, `inject()`), not an unhandled
  // rejection that ends the process before the app is asked to start.
  done.catch(() => {})
  parent._pending.push(done)
  return parent
}

/**
 * Resolves once every plugin registered on `owner` (and on theirs) is mounted; rejects with
 * a plugin's error, then and every time after (an app missing a plugin's routes never starts).
 */
async function settled (owner) {
  if (owner._failed !== undefined) throw owner._failed
  try {
    while (owner._pending.length !== 0) await Promise.all(owner._pending.splice(0))
  } catch (err) {
    owner._failed = err
    throw err
  }
}

/** Mounts `scope` in `parent`: its handlers join the parent's table, after the parent's own. */
function nestScope (parent, scope) {
  if (!(scope instanceof Scope)) throw new TypeError('service(scope): pass a scope(prefix)')
  const base = parent._handlers.length
  routing(() => parent._routes.nest(scope.prefix, scope._routes, base))
  parent._handlers.push(...scope._handlers)
  // Each handler's scope middleware: this scope's, outside that of the scopes inside it. Its
  // error handlers: those of the scopes inside it (nearest first), then this scope's.
  const own = scope._errorHandler
  scope._handlers.forEach((_, i) => {
    const inner = scope._scoped[i]
    const chain = inner === undefined ? scope._middleware : scope._middleware.concat(inner)
    if (chain.length !== 0) parent._scoped[base + i] = chain
    const nested = scope._errors[i]
    const errors = own === null ? nested : nested === undefined ? [own] : nested.concat(own)
    if (errors !== undefined) parent._errors[base + i] = errors
  })
  scope._mounted = true
}

/** The access logger of the preset (Rust, armature-layers), writing one line per request to stderr. */
class Logger {
  constructor (format) { this.format = format }
  static default () { return new Logger('text') }
  static json () { return new Logger('json') }
}

/** CORS from armature-layers. Invalid options throw here. */
class Cors {
  constructor (options) {
    native.validateCors(options)
    this.options = options
  }

  static permissive () { return new Cors({ permissive: true }) }
  static new (options) { return new Cors(normalizeCors(options)) }
}

/**
 * Throws a TypeError (its message starting with `where`) unless `options` is a plain object
 * whose keys are all in `known`; `like` says what a valid one looks like.
 */
function checkOptions (options, known, where, like) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`${where}: ${like}`)
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new TypeError(`${where}: unknown option ${JSON.stringify(key)} (known: ${[...known].join(', ')})`)
  }
}

const CORS_OPTIONS = new Set(['origins', 'origin', 'methods', 'headers', 'exposeHeaders', 'credentials', 'maxAge'])

function normalizeCors (options = {}) {
  checkOptions(options, CORS_OPTIONS, 'Cors.new', "options must be an object like { origins: ['https://app.example'] }")
  const { maxAge } = options
  // Rust takes a u32, which would wrap -1 and 1.5e10.
  if (maxAge !== undefined && (!Number.isInteger(maxAge) || maxAge < 0 || maxAge > 0xffffffff)) {
    throw new TypeError(`Cors.new: maxAge must be a whole number of seconds, got ${String(maxAge)}`)
  }
  const origins = options.origins ?? options.origin
  return {
    origins: origins === undefined ? undefined : [].concat(origins),
    methods: options.methods,
    headers: options.headers,
    exposeHeaders: options.exposeHeaders,
    credentials: options.credentials,
    maxAge: options.maxAge
  }
}

/**
 * A rate limit from armature-layers (GCRA per key, in process or in Redis): over-quota
 * requests get `429` with `Retry-After`, and every answer the `RateLimit-Policy` / `RateLimit`
 * headers. Invalid options throw here. The counts belong to this object: an app recompiled
 * after a new route keeps them, and apps wrapped with the same `RateLimit` share them.
 */
class RateLimit {
  constructor (options) {
    this._native = new native.NativeRateLimit(normalizeRateLimit(options))
  }

  static new (options) { return new RateLimit(options) }
  static perSecond (requests, options = {}) { return new RateLimit({ ...checkObject(options, 'perSecond'), requests, perSeconds: 1 }) }
  static perMinute (requests, options = {}) { return new RateLimit({ ...checkObject(options, 'perMinute'), requests, perSeconds: 60 }) }
  static perHour (requests, options = {}) { return new RateLimit({ ...checkObject(options, 'perHour'), requests, perSeconds: 3600 }) }
}

const RATE_LIMIT_OPTIONS = new Set(['requests', 'perSeconds', 'burst', 'keyBy', 'trustProxies', 'redis', 'redisOnFailure',
  'redisPrefix', 'name', 'headers', 'xHeaders'])

function checkObject (options, where) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`RateLimit.${where}: options must be an object like { burst: 10, keyBy: 'ip' }`)
  }
  for (const key of ['requests', 'perSeconds']) {
    if (key in options) throw new TypeError(`RateLimit.${where}(n, options): ${key} comes from the call; use new RateLimit({ requests, perSeconds }) instead`)
  }
  return options
}

function normalizeRateLimit (options) {
  const fail = (message) => { throw new TypeError(`RateLimit: ${message}`) }
  checkOptions(options, RATE_LIMIT_OPTIONS, 'RateLimit', 'pass options like { requests: 100, perSeconds: 1 }, or use RateLimit.perSecond(100)')
  const { requests, perSeconds = 1, burst, keyBy = 'ip', trustProxies, redis, redisOnFailure, redisPrefix, name, headers, xHeaders } = options
  const count = (value, what) => {
    if (!Number.isInteger(value) || value < 1 || value > 0xffffffff) fail(`${what} must be a positive integer, got ${String(value)}`)
    return value
  }
  const text = (value, what) => {
    if (value !== undefined && typeof value !== 'string') fail(`${what} must be a string, got ${typeof value}`)
    return value
  }
  const flag = (value, what) => {
    if (value !== undefined && typeof value !== 'boolean') fail(`${what} must be true or false, got ${String(value)}`)
    return value
  }
  count(requests, 'requests')
  if (typeof perSeconds !== 'number' || !Number.isFinite(perSeconds) || perSeconds <= 0) {
    fail(`perSeconds must be a positive number of seconds, got ${String(perSeconds)}`)
  }
  if (burst !== undefined) count(burst, 'burst')
  let keyHeader
  if (keyBy === 'ip') keyHeader = undefined
  else if (keyBy !== null && typeof keyBy === 'object' && typeof keyBy.header === 'string' && keyBy.header !== '') keyHeader = keyBy.header
  else fail(`keyBy must be 'ip' or { header: 'x-api-key' }, got ${JSON.stringify(keyBy)}`)
  let proxies
  if (trustProxies !== undefined) {
    proxies = [].concat(trustProxies)
    if (!proxies.every((p) => typeof p === 'string')) fail('trustProxies must list IP addresses or networks like "10.0.0.0/8"')
    if (keyHeader !== undefined) fail("trustProxies only applies with keyBy: 'ip'")
  }
  return {
    requests,
    perSeconds,
    burst,
    keyHeader,
    trustProxies: proxies,
    redis: text(redis, 'redis'),
    redisOnFailure: text(redisOnFailure, 'redisOnFailure'),
    redisPrefix: text(redisPrefix, 'redisPrefix'),
    name: text(name, 'name'),
    headers: flag(headers, 'headers'),
    xHeaders: flag(xHeaders, 'xHeaders')
  }
}

// Ctrl-C and SIGTERM. Node owns the process's signal handling, so the native server installs
// no handler of its own (see NativeApp.listen in src/app.rs); here the first SIGINT/SIGTERM
// closes every server started with `signals` (the default) gracefully, and the process then
// exits by itself once nothing else keeps it alive. The listeners are removed at once, so a
// second Ctrl-C terminates the process the default way. Node's signal watchers are unref'd:
// listening for a signal never keeps the process alive.
const SIGNALS = ['SIGINT', 'SIGTERM']
const signalled = new Set()

function onSignal () {
  for (const sig of SIGNALS) process.removeListener(sig, onSignal)
  for (const server of signalled) server.close()
}

function watchSignals (server) {
  if (signalled.size === 0) for (const sig of SIGNALS) process.on(sig, onSignal)
  signalled.add(server)
  const forget = () => {
    signalled.delete(server)
    if (signalled.size === 0) for (const sig of SIGNALS) process.removeListener(sig, onSignal)
  }
  server.closed.then(forget, forget)
}

/** A running server; `close()` shuts it down gracefully. */
class Server {
  constructor (nativeServer, signals) {
    this._native = nativeServer
    this.port = nativeServer.port
    this.host = nativeServer.host
    this.url = `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`
    // Pending while serving: keeps Node alive exactly as long as the server runs.
    this.closed = nativeServer.closed()
    if (signals) watchSignals(this)
  }

  address () { return { address: this.host, port: this.port } }
  /** Stops accepting, lets in-flight requests finish, resolves when stopped. */
  close () {
    this._native.close()
    return this.closed
  }
}

const APP_OPTIONS = new Set(['bodyLimit', 'logger'])
const LISTEN_OPTIONS = new Set(['signals', 'shutdownTimeout'])
const STATIC_OPTIONS = new Set(['index'])


/**
 * An app: routes, the Rust preset layers, JS middleware, shared data. Options, as Fastify's:
 * `bodyLimit`, the largest request body accepted in bytes (default 1 MiB; larger ones get 413);
 * `logger: true`, one JSON line a request (the same as `wrap(Logger.json())`).
 */
class App {
  constructor (options = {}) {
    checkOptions(options, APP_OPTIONS, 'App.new', 'options must be an object like { bodyLimit: 1048576 }')
    const { bodyLimit } = options
    if (bodyLimit !== undefined && (!Number.isInteger(bodyLimit) || bodyLimit < 0 || bodyLimit > 0xffffffff)) {
      throw new TypeError(`App.new: bodyLimit must be a whole number of bytes, got ${String(bodyLimit)}`)
    }
    if (options.logger !== undefined && typeof options.logger !== 'boolean') {
      throw new TypeError('App.new: logger is true or false (for text lines, wrap(Logger.default()) instead)')
    }
    this._bodyLimit = bodyLimit
    this._routes = new native.NativeRoutes()
    this._handlers = []
    this._logger = options.logger === true ? 'json' : null
    this._cors = null
    this._rateLimits = []
    this._middleware = []
    // The middleware of scopes mounted with service(), by handler index (see nestScope), and
    // their error handlers.
    this._scoped = []
    this._errors = []
    // Async plugins registered on it, not yet mounted (`ready()` waits for them), and the
    // first that failed.
    this._pending = []
    this._failed = undefined
    this._data = {}
    this._errorHandler = null
    this._schemas = []
    this._native = null
    this._serving = 0
    // The servers `listen()` started that have not stopped, for `close()`.
    this._servers = new Set()
    // The default not-found answer: written in Rust without entering JS, unless the app has
    // JS middleware (which sees it as any answer), then by `notFound` here.
    this._routes.fallbackDefault(this._handlers.length)
    this._handlers.push(notFound)
  }

  static new (options) { return new this(options) }

  /** Throws if a server of this app runs: what it serves was compiled when it started. */
  _change (what) {
    if (this._serving > 0) throw new Error(`${what}: the app is serving; add routes and layers before listen(), or close() its servers first`)
    this._native = null
  }

  /**
   * A preset layer (`Logger`, `Cors`, `RateLimit`) or JS middleware `async (req, next) => response`.
   * One logger and one CORS policy (the last wins); every `RateLimit` wrapped applies.
   */
  wrap (layer) {
    this._change('wrap()')
    if (layer instanceof Logger) this._logger = layer.format
    else if (layer instanceof Cors) this._cors = layer.options
    else if (layer instanceof RateLimit) this._rateLimits.push(layer._native)
    else if (typeof layer === 'function') this._middleware.push(layer)
    else throw new TypeError('wrap(): pass Logger.default(), Cors.permissive(), Cors.new({...}), RateLimit.perSecond(n) or a function (req, next) => response')
    return this
  }

  /** Values every handler sees as `req.data`. */
  data (values) {
    if (values === null || typeof values !== 'object' || Array.isArray(values)) throw new TypeError('data(values): pass an object like { db }')
    Object.assign(this._data, values)
    return this
  }

  /**
   * Answers requests no route matches (instead of the default `404`, Fastify's
   * `{"statusCode":404,"error":"Not Found","message":"Route GET:/nope not found"}`): a handler
   * `(req) => response`, as for a route, or a constant `HttpResponse`. A path that matches a
   * route but not its method still gets `405` with `Allow`.
   */
  setNotFoundHandler (handler) {
    this._change('setNotFoundHandler()')
    checkHandler(handler)
    register(this._handlers, handler,
      (res, index) => this._routes.fallbackStatic(res.statusCode, res.contentType, res.headerList, res.payload, index),
      (index) => this._routes.fallbackJs(index))
    return this
  }

  /**
   * Turns what a handler or middleware throws (or rejects with) into the answer:
   * `(err, req) => response`, sync or async. Returning `undefined` leaves the error to the
   * default handling (its `statusCode`, else a logged `500`), as does throwing from here.
   * It also sees the refusals that come before any route: a refused body (413, 400), a rate
   * limit's 429 and a method the path's routes lack (405), which Rust answers without one.
   */
  setErrorHandler (handler) {
    this._change('setErrorHandler()')
    if (typeof handler !== 'function') throw new TypeError('setErrorHandler(handler): pass a function (err, req) => response')
    this._errorHandler = handler
    return this
  }

  /**
   * Adds routes: `route(path, get(handler).post(options, handler))`, or one route as Fastify
   * declares it, `route({ method, url, schema, handler })` (`method` may be a list).
   */
  route (path, methods) {
    if (path !== null && typeof path === 'object' && methods === undefined) return this.route(...declaredRoute(path))
    this._change(`route(${JSON.stringify(path)})`)
    addRoute(this, path, methods)
    return this
  }

  service (scope) { this._change('service()'); nestScope(this, scope); return this }

  /**
   * Fastify's `register(plugin, { prefix })`: `plugin(scope, options)` adds routes,
   * middleware (`scope.wrap`, for its routes only) and more plugins to a scope at `prefix`
   * (none by default), mounted once it returns or resolves. `listen()`, `inject()` and
   * `ready()` wait for async ones.
   */
  register (plugin, options) { return registerPlugin(this, plugin, options) }

  /** Resolves once every plugin registered is mounted (as Fastify's `ready()`); a plugin's error rejects it. */
  async ready () {
    await settled(this)
    return this
  }

  /**
   * Serves the files of the directory `root` under `prefix` (`/public/css/site.css` from
   * `root/css/site.css`), as @fastify/static does, from Rust (tower-http's `ServeDir`):
   * content types, `ETag`/`Last-Modified` with `304`s, ranges, `HEAD`, nothing outside
   * `root` (a symbolic link that leads out of it is a missing file). `{ index: true }` (the default) serves a directory's `index.html`. A missing file
   * is a `404` (message `Not Found`). These requests never reach JS (no middleware, no
   * not-found handler). A `root` that is not a directory throws.
   */
  static (prefix, root, options = {}) {
    this._change('static()')
    if (typeof prefix !== 'string') throw new TypeError("static(prefix, root): prefix must be a string like '/public'")
    checkOptions(options, STATIC_OPTIONS, 'static', 'options must be an object like { index: true }')
    const { index = true } = options
    if (typeof index !== 'boolean') throw new TypeError('static: index is true or false')
    const dir = String(root)
    let isDir = false
    try {
      isDir = fs.statSync(dir).isDirectory()
    } catch {}
    if (!isDir) throw new Error(`static(${JSON.stringify(prefix)}, ${JSON.stringify(dir)}): not a directory`)
    this._routes.addFiles(prefix, dir, index)
    return this
  }

  /**
   * Adds a JSON Schema with an `$id` that route schemas can refer to (`{ $ref: 'user#' }`), as
   * Fastify's `addSchema`.
   */
  addSchema (schema) {
    this._change('addSchema()')
    checkShared(schema, this._schemas)
    this._schemas.push(schema)
    return this
  }

  _compile () {
    if (this._native === null) {
      // First, so a schema that does not compile throws before anything starts.
      const compiler = new SchemaCompiler(this._schemas)
      const handlers = this._handlers.map((h) => h instanceof Validated ? h.compile(compiler, validating) : h)
      // Route configs by handler index (`withConfig`), read before the middleware runs.
      const configs = []
      this._handlers.forEach((h, index) => {
        const config = (h instanceof Validated ? h.handler : h).routeConfig
        if (config !== undefined) configs[index] = config
      })
      // With middleware or an error handler, a body Rust refused (too large, unreadable) is
      // thrown by one of these two handlers, so they see it, as Fastify's hooks and error
      // handler see FST_ERR_CTP_BODY_TOO_LARGE (the app's, not a scope's: no route is matched
      // before the body is read).
      const middleware = this._middleware.length > 0 || this._scoped.length > 0
      let refusals
      if (middleware || this._errorHandler !== null) {
        refusals = [handlers.length, handlers.length + 1]
        handlers.push(() => { throw coded(413, 'FST_ERR_CTP_BODY_TOO_LARGE', 'Request body is too large') },
          () => { throw new HttpError(400, 'The request body could not be read') })
      }
      // With an error handler, the refusals of the Rust layers are errors it sees too: a rate
      // limit's 429 (as @fastify/rate-limit throws it: statusCode 429, 'Rate limit exceeded,
      // retry in 30 seconds'; the limit adds Retry-After and the RateLimit headers to the
      // answer) and the 405 of a path whose routes lack the method (the router adds Allow
      // when the answer is still a 405). Without one, Rust answers them, never entering JS.
      let rateLimited, methodNotAllowed
      if (this._errorHandler !== null) {
        rateLimited = handlers.length
        methodNotAllowed = handlers.length + 1
        handlers.push((req) => { throw new HttpError(429, req._calls.refusal(req._id)) },
          (req) => { throw new HttpError(405, `${req.method} is not allowed on ${req.url}`) })
      }
      let dispatch = null
      const compiled = new native.NativeApp(this._routes, this._logger ?? undefined, this._cors ?? undefined,
        this._rateLimits, () => dispatch(), { bodyLimit: this._bodyLimit, middleware, refusals, rateLimited, methodNotAllowed })
      // Each handler's error handlers, nearest first: its scopes', then the app's.
      const app = this._errorHandler === null ? [] : [this._errorHandler]
      const scoped = []
      this._errors.forEach((chain, index) => { scoped[index] = chain.concat(app) })
      dispatch = makeDispatch(compiled.calls(), handlers, this._middleware.slice(), this._data, { app, scoped }, this._scoped, configs)
      this._native = compiled
    }
    return this._native
  }

  /**
   * Serves on `port` (0 picks one); resolves once bound. Options: `signals` (default true:
   * SIGINT/SIGTERM close the server) and `shutdownTimeout`, how long in-flight requests may
   * run once closing begins, in milliseconds (default 10000); past it their connections close.
   */
  async listen (port = 0, host = '127.0.0.1', options = {}) {
    if (typeof port === 'object' && port !== null) ({ port = 0, host = '127.0.0.1', ...options } = port)
    if (typeof port === 'string' && /^\d+$/.test(port)) port = Number(port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`listen: invalid port ${port}`)
    checkOptions(options, LISTEN_OPTIONS, 'listen', 'options must be an object like { signals: true, shutdownTimeout: 10000 }')
    const { shutdownTimeout } = options
    if (shutdownTimeout !== undefined && (!Number.isInteger(shutdownTimeout) || shutdownTimeout < 0 || shutdownTimeout > 0xffffffff)) {
      throw new RangeError(`listen: shutdownTimeout must be a whole number of milliseconds, 0 or more, got ${String(shutdownTimeout)}`)
    }
    await this.ready()
    const compiled = this._compile()
    let bound
    try {
      bound = compiled.listen(host, port, shutdownTimeout)
    } catch (err) {
      throw withErrno(err, 'listen')
    }
    const server = new Server(bound, options.signals ?? true)
    this._serving++
    this._servers.add(server)
    const done = () => { this._serving--; this._servers.delete(server) }
    server.closed.then(done, done)
    return server
  }

  /**
   * Closes every server this app's `listen()` started, gracefully (each `Server.close()`), as
   * Fastify's `app.close()`; resolves once all have stopped. With none serving it resolves at
   * once, so calling it twice is fine.
   */
  async close () {
    await Promise.all([...this._servers].map((server) => server.close()))
  }

  /** Serves on `"host:port"`; resolves once bound. */
  async run (address, options = {}) {
    const match = /^\[?([^\]]*)\]?:(\d+)$/.exec(String(address))
    if (!match) throw new TypeError(`run: expected "host:port", got ${JSON.stringify(address)}`)
    return this.listen(Number(match[2]), match[1], options)
  }

  /**
   * Runs one request through the whole stack (Rust layers, router, JS) without a socket.
   * Options as light-my-request's (Fastify's `inject`): `method`, `url` (or `path`), `query`
   * (an object or a string, merged into the URL's query: its keys replace the URL's), `headers`, `body` (or `payload`):
   * a string or bytes as they are, anything else as JSON, `cookies` (an object, sent as one
   * `Cookie` header) and `remoteAddress`. As from a server, a `204`, a `304` and the answer to
   * a `HEAD` have no body.
   */
  async inject (options) {
    if (typeof options === 'string') options = { url: options }
    checkOptions(options, INJECT_OPTIONS, 'inject', "options must be an object like { method: 'POST', url: '/users', body: { name: 'Eve' } }")
    const { method = 'GET', headers = {}, remoteAddress } = options
    if (options.body !== undefined && options.payload !== undefined) throw new TypeError('inject: give body or payload, not both')
    const body = options.body ?? options.payload
    const { url, host } = requestTarget(withQuery(String(options.url ?? options.path ?? '/'), options.query))
    const flat = []
    // The names given (lower case), so defaults below are only added where none was.
    const given = new Set()
    // As light-my-request: an array value is one header per value (two cookies stay two).
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue
      given.add(name.toLowerCase())
      for (const one of [].concat(value)) flat.push(name, String(one))
    }
    if (options.cookies !== undefined) {
      // As light-my-request: one `Cookie` header of the pairs, after any given.
      if (options.cookies === null || typeof options.cookies !== 'object') throw new TypeError("inject: cookies must be an object like { session: 'abc' }")
      const pairs = Object.entries(options.cookies).map(([name, value]) => `${name}=${value}`)
      if (pairs.length !== 0) flat.push('cookie', pairs.join('; '))
    }
    let payload
    if (body !== undefined && body !== null) {
      if (typeof body === 'string') payload = Buffer.from(body)
      else if (isBytes(body)) payload = toBuffer(body)
      else {
        payload = Buffer.from(JSON.stringify(body))
        if (!given.has('content-type')) flat.push('content-type', JSON_TYPE)
      }
    }
    // What light-my-request (and any HTTP/1.1 client) sends unless told otherwise.
    if (!given.has('user-agent')) flat.push('user-agent', 'lightMyRequest')
    if (!given.has('host')) flat.push('host', host)
    if (payload !== undefined && !given.has('content-length') && !given.has('transfer-encoding')) flat.push('content-length', String(payload.length))
    if (this._pending.length !== 0 || this._failed !== undefined) await this.ready()
    const verb = String(method).toUpperCase()
    const res = await this._compile().inject(verb, url, flat, payload, remoteAddress)
    // As light-my-request: repeated headers joined with ", ", except `set-cookie`, whose
    // values are an array (a cookie's `Expires` holds a comma, so joined they cannot be split).
    const headerObject = {}
    for (let i = 0; i < res.headers.length; i += 2) {
      const name = res.headers[i]
      const value = res.headers[i + 1]
      if (!Object.hasOwn(headerObject, name)) headerObject[name] = value
      else if (name === 'set-cookie') headerObject[name] = [].concat(headerObject[name], value)
      else headerObject[name] = `${headerObject[name]}, ${value}`
    }
    // The length a server sends (light-my-request has Node's own): none for a bodiless status.
    const bodiless = res.status < 200 || res.status === 204 || res.status === 304
    if (!bodiless && !Object.hasOwn(headerObject, 'content-length') && !Object.hasOwn(headerObject, 'transfer-encoding')) {
      headerObject['content-length'] = String(res.body.length)
    }
    // No body for a bodiless status or a HEAD request, as a server sends none (its headers,
    // `content-length` included, are kept).
    const raw = bodiless || verb === 'HEAD' ? Buffer.alloc(0) : res.body
    const text = raw.toString('utf8')
    return {
      statusCode: res.status,
      statusMessage: STATUS_CODES[res.status] ?? '',
      headers: headerObject,
      body: text,
      payload: text,
      rawBody: raw,
      rawPayload: raw,
      cookies: setCookies(headerObject['set-cookie']),
      json: () => JSON.parse(text)
    }
  }
}

/**
 * The cookies `Set-Cookie` fields set, as light-my-request's `res.cookies` lists them (the
 * `set-cookie-parser` package's shape): `{ name, value }` with the value percent-decoded when it
 * decodes, plus `expires` (a Date), `maxAge` (a number), `domain`, `path`, `secure`,
 * `httpOnly`, `sameSite` and `partitioned` when given; other attributes under their lower-case
 * name.
 */
function setCookies (fields) {
  const cookies = []
  for (const field of fields === undefined ? [] : [].concat(fields)) {
    const [pair, ...attributes] = field.split(';')
    const eq = pair.indexOf('=')
    const name = eq < 0 ? '' : pair.slice(0, eq).trim()
    let value = (eq < 0 ? pair : pair.slice(eq + 1)).trim()
    try { value = decodeURIComponent(value) } catch {}
    const cookie = { name, value }
    for (const attribute of attributes) {
      const at = attribute.indexOf('=')
      const key = (at < 0 ? attribute : attribute.slice(0, at)).trim().toLowerCase()
      const text = at < 0 ? '' : attribute.slice(at + 1).trim()
      if (key === '') continue
      if (key === 'expires') cookie.expires = new Date(text)
      else if (key === 'max-age') cookie.maxAge = Number.parseInt(text, 10)
      else if (key === 'secure' || key === 'partitioned') cookie[key] = true
      else if (key === 'httponly') cookie.httpOnly = true
      else if (key === 'samesite') cookie.sameSite = text
      else setOwn(cookie, key, text)
    }
    cookies.push(cookie)
  }
  return cookies
}

/**
 * `err` with Node's `code`, `errno` and `syscall` when its message ends with Rust's
 * `(os error N)`: `EADDRINUSE` for a taken port, as `net.Server.listen` reports it.
 */
function withErrno (err, syscall) {
  const match = /\(os error (\d+)\)$/.exec(err?.message ?? '')
  const errno = match === null ? undefined : Number(match[1])
  const name = errno === undefined ? undefined : Object.keys(osErrno).find((key) => osErrno[key] === errno)
  if (name !== undefined) Object.assign(err, { code: name, errno: -errno, syscall })
  return err
}

const INJECT_OPTIONS = new Set(['method', 'url', 'path', 'query', 'headers', 'cookies', 'body', 'payload', 'remoteAddress'])

/**
 * The request target and `Host` of an inject `url`, as light-my-request reads it (a URL
 * relative to `http://localhost`): percent-encoded as a client sends it (`/a b` is
 * `/a%20b`), without its fragment; an absolute URL's host is the `Host`.
 */
function requestTarget (url) {
  // `//x` is a path, not a URL without its scheme.
  const parsed = new URL(url.startsWith('//') ? `http://localhost${url}` : url, 'http://localhost')
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80')
  return { url: parsed.pathname + parsed.search, host: `${parsed.hostname}:${port}` }
}

/** `url` with `query` (an object whose array values repeat their key, or a string) added to its query string, in place of the same keys there. */
function withQuery (url, query) {
  if (query === undefined || query === null) return url
  let params
  if (typeof query === 'string') params = new URLSearchParams(query)
  else if (typeof query === 'object') {
    params = new URLSearchParams()
    for (const [key, value] of Object.entries(query)) {
      for (const one of [].concat(value)) params.append(key, String(one))
    }
  } else throw new TypeError(`inject: query must be an object like { page: '2' } or a string, got ${typeof query}`)
  const text = params.toString()
  if (text === '') return url
  const hash = url.indexOf('#')
  const base = hash < 0 ? url : url.slice(0, hash)
  const mark = base.indexOf('?')
  if (mark < 0) return `${base}?${text}`
  // As light-my-request: a key given replaces that key in the url's query (the rest as sent).
  const replaced = new Set(params.keys())
  const kept = base.slice(mark + 1).split('&').filter((pair) => {
    const eq = pair.indexOf('=')
    return pair !== '' && !replaced.has(queryText(eq < 0 ? pair : pair.slice(0, eq)))
  })
  return `${base.slice(0, mark)}?${[...kept, text].join('&')}`
}

/** `new Router()`: an App with the Fastify-style `router.get(path, handler)` shortcuts. */
class Router extends App {}
for (const m of [...METHODS, 'ALL']) {
  // `app.get(path, handler)`, and the same on a scope (what a plugin is given).
  App.prototype[m.toLowerCase()] = Scope.prototype[m.toLowerCase()] = function (path, options, handler) {
    return this.route(path, new MethodRouter().on(m, options, handler))
  }
}

const ROUTE_DECLARATION = new Set(['method', 'url', 'path', 'schema', 'config', 'handler'])

/** `route({ method, url, schema, config, handler })` as `route(url, methods)`. */
function declaredRoute (declaration) {
  checkOptions(declaration, ROUTE_DECLARATION, 'route({...})', "declare a route like { method: 'GET', url: '/users/:id', handler }")
  const { method, url = declaration.path, schema, config, handler } = declaration
  const list = [].concat(method)
  if (list.length === 0 || !list.every((m) => typeof m === 'string')) {
    throw new TypeError(`route({...}): method must be a method name or a list of them, got ${JSON.stringify(method)}`)
  }
  const methods = new MethodRouter()
  // An option left undefined is no option (`on` reads them so).
  for (const m of list) methods.on(m, { schema, config }, handler)
  return [url, methods]
}

const methodFns = {}
for (const m of METHODS) methodFns[m.toLowerCase()] = (options, handler) => new MethodRouter().on(m, options, handler)

module.exports = {
  App,
  Router,
  HttpError,
  HttpResponse,
  Request,
  MethodRouter,
  Scope,
  Server,
  Logger,
  Cors,
  RateLimit,
  scope: (prefix) => new Scope(prefix),
  route: () => new MethodRouter(),
  all: (options, handler) => new MethodRouter().on('ALL', options, handler),
  del: (options, handler) => new MethodRouter().on('DELETE', options, handler),
  ...methodFns
}
