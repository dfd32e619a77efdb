// node:http peer: node benches/load/node/node-http.mjs --port N. A hand-written path match.
import http from 'node:http'

const portArg = process.argv.indexOf('--port')
const port = Number(portArg >= 0 ? process.argv[portArg + 1] : process.env.PORT ?? 3000)
const USER = /^\/users\/([^/]+)$/
http.createServer((req, res) => {
  if (req.url === '/plaintext') {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('Hello, World!')
  } else if (req.url === '/json') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ message: 'Hello, World!' }))
  } else {
    const m = USER.exec(req.url)
    if (m) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ id: m[1], name: 'Alice' }))
    } else {
      res.writeHead(404).end()
    }
  }
}).listen(port, '127.0.0.1')
