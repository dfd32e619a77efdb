// ESM entry: named exports for `import { Router, App, ... } from '@armature/core'`.
import core from './index.js'

export const {
  App, Router, HttpError, HttpResponse, Request, MethodRouter, Scope, Server, Logger, Cors, RateLimit,
  scope, route, all, get, head, post, put, patch, options
} = core
export const del = core.delete
export { del as delete }
export default core
