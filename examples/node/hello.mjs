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
// --logger adds the access log (one line per request on stderr). Ctrl-C stops gracefully.
import { App, HttpResponse, Logger, get } from '../../armature-bindings/node/lib/index.mjs'

const args = process.argv.slice(2)
const flag = (name) => args.includes(name)
const portArg = args.indexOf('--port')
const port = Number(portArg >= 0 ? args[portArg + 1] : process.env.PORT ?? 3000)

const app = App.new()
if (flag('--logger')) app.wrap(Logger.default())
const constant = flag('--static')
app
  .route('/plaintext', get(constant ? HttpResponse.text('Hello, World!') : () => HttpResponse.text('Hello, World!')))
  .route('/json', get(constant ? HttpResponse.json({ message: 'Hello, World!' }) : () => HttpResponse.json({ message: 'Hello, World!' })))
  .route('/users/:id', get((req) => HttpResponse.json({ id: req.param('id'), name: 'Alice' })))

const server = await app.run(`127.0.0.1:${port}`)
console.log(`listening on ${server.url}`)
