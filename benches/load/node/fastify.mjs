// Fastify peer: node benches/load/node/fastify.mjs --port N [--schema]. Defaults (no logger),
// one process. --schema: /json and /users/:id with the route schemas examples/node/hello.mjs
// --schema uses (same answers).
import Fastify from 'fastify'

const portArg = process.argv.indexOf('--port')
const port = Number(portArg >= 0 ? process.argv[portArg + 1] : process.env.PORT ?? 3000)
const app = Fastify({ logger: false })
app.get('/plaintext', (req, reply) => { reply.type('text/plain').send('Hello, World!') })
const schema = process.argv.includes('--schema')
  ? {
      json: { response: { 200: { type: 'object', properties: { message: { type: 'string' } } } } },
      user: {
        params: { type: 'object', properties: { id: { type: 'string', maxLength: 32 } } },
        response: { 200: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } } }
      }
    }
  : {}
app.get('/json', { schema: schema.json }, () => ({ message: 'Hello, World!' }))
app.get('/users/:id', { schema: schema.user }, (req) => ({ id: req.params.id, name: 'Alice' }))
await app.listen({ port, host: '127.0.0.1' })
