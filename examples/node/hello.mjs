// The three benchmark endpoints through JS handlers, on the preset stack.
//
//   (cd armature-bindings/node && npm install)      # builds the native addon
//   node examples/node/hello.mjs [--port 3000] [--logger] [--static]
//   curl localhost:3000/plaintext    # Hello, World!
//   curl localhost:3000/json         # {"message":"Hello, World!"}
//   curl localhost:3000/users/42     # {"id":"42","name":"Alice"}
//
// --static answers /plaintext and /json with constant responses from Rust (never entering JS);
// /users/:id still runs its JS handler.
// --schema gives /json and /users/:id Fastify-style route schemas (the id validated, both
// answers written by their response schema): the same answers, through Ajv and
// fast-json-stringify. --logger adds the access log (one line per request on stderr).
// Ctrl-C stops gracefully.
import { App, HttpResponse, Logger, get } from '../../armature-bindings/node/lib/index.mjs'

// The schemas of --schema, the same as benches/load/node/fastify.mjs's.
const SCHEMAS = {
  json: { response: { 200: { type: 'object', properties: { message: { type: 'string' } } } } },
  user: {
    params: { type: 'object', properties: { id: { type: 'string', maxLength: 32 } } },
    response: { 200: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } } }
  }
}

const args = process.argv.slice(2)
const flag = (name) => args.includes(name)
const portArg = args.indexOf('--port')
const port = Number(portArg >= 0 ? args[portArg + 1] : process.env.PORT ?? 3000)

const app = App.new()
if (flag('--logger')) app.wrap(Logger.default())
const constant = flag('--static')
const schemas = flag('--schema') ? SCHEMAS : {}
app
  .route('/plaintext', get(constant ? HttpResponse.text('Hello, World!') : () => HttpResponse.text('Hello, World!')))
  .route('/json', get({ schema: schemas.json }, constant ? HttpResponse.json({ message: 'Hello, World!' }) : () => HttpResponse.json({ message: 'Hello, World!' })))
  .route('/users/:id', get({ schema: schemas.user }, (req) => HttpResponse.json({ id: req.param('id'), name: 'Alice' })))

const server = await app.run(`127.0.0.1:${port}`)
console.log(`listening on ${server.url}`)
