// Fastify peer: node benches/load/node/fastify.mjs --port N. Defaults (no logger), one process.
import Fastify from 'fastify'

const portArg = process.argv.indexOf('--port')
const port = Number(portArg >= 0 ? process.argv[portArg + 1] : process.env.PORT ?? 3000)
const app = Fastify({ logger: false })
app.get('/plaintext', (req, reply) => { reply.type('text/plain').send('Hello, World!') })
app.get('/json', () => ({ message: 'Hello, World!' }))
app.get('/users/:id', (req) => ({ id: req.params.id, name: 'Alice' }))
await app.listen({ port, host: '127.0.0.1' })
