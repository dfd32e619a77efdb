'use strict'

const { STATUS_CODES } = require('node:http')

/**
 * An error that answers with its own status: throw `new HttpError(404, 'no such user')` (or any
 * error with an integer `statusCode` or `status` from 400 to 599, as Fastify and http-errors
 * make them). A 4xx answers `{"statusCode", "error", "message"}` (Fastify's shape) with its
 * message; a 5xx is logged and answers its status with a generic message. Any other thrown
 * value answers a logged `500`. Without a message, the message is the status's reason phrase
 * (`new HttpError(404).message` is `'Not Found'`), as http-errors makes it.
 */
class HttpError extends Error {
  constructor (statusCode, message) {
    if (!Number.isInteger(statusCode) || statusCode < 400 || statusCode > 599) {
      throw new RangeError(`HttpError: statusCode must be an integer from 400 to 599, got ${String(statusCode)}`)
    }
    super(message ?? STATUS_CODES[statusCode] ?? String(statusCode))
    this.name = 'HttpError'
    this.statusCode = statusCode
  }
}

/** An `HttpError` with Fastify's `code` for the same refusal (`FST_ERR_...`). */
function coded (statusCode, code, message) {
  const err = new HttpError(statusCode, message)
  err.code = code
  return err
}

module.exports = { HttpError, coded }
