// Memory per in-flight request: the server's RSS growth while N requests wait in a slow async
// handler, divided by N.
//
//   node benches/load/node/inflight-memory.mjs [--server armature|node-http|fastify] [--n 5000] [--rounds 3]
//
// The server runs in a child process (so its RSS is its own) and answers GET /hold by waiting
// until POST-less GET /release arrives, then every held request completes. The client opens N
// HTTP/1.1 connections with one request each (raw sockets: no client-side pooling), waits until
// the server reports N handlers waiting, reads the child's VmRSS from /proc, releases them,
// and checks every response. Each in-flight request therefore carries its connection too, as
// it would in production. Reported: (RSS with N waiting - RSS after a warm-up round of the
// same size, once everything has finished) / N; the warm-up round makes the runtime grow its
// heaps and pools first, so what remains is the cost of holding requests.
import { fork } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { fileURLToPath } from 'node:url'

const args = process.argv.slice(2)
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt }


async function child (kind) {
  let waiting = 0
  let release
  let gate = new Promise((resolve) => { release = resolve })
  const hold = async () => { waiting++; await gate; waiting--; return 'ok' }
  const open = () => { const r = release; gate = new Promise((resolve) => { release = resolve }); r() }
  let port
  if (kind === 'armature') {
    const { App, get } = await import('../../../armature-bindings/node/lib/index.mjs')
    const app = App.new()
      .route('/hold', get(hold))
      .route('/waiting', get(() => String(waiting)))
      .route('/release', get(() => { open(); return 'released' }))
    port = (await app.listen(0)).port
  } else if (kind === 'fastify') {
    const { default: Fastify } = await import('fastify')
    const app = Fastify({ logger: false })
    app.get('/hold', hold)
    app.get('/waiting', async () => String(waiting))
    app.get('/release', async () => { open(); return 'released' })
    await app.listen({ port: 0, host: '127.0.0.1' })
    port = app.server.address().port
  } else if (kind === 'node-http') {
    const http = await import('node:http')
    const server = http.createServer(async (req, res) => {
      let body
      if (req.url === '/hold') body = await hold()
      else if (req.url === '/waiting') body = String(waiting)
      else if (req.url === '/release') { open(); body = 'released' } else { res.writeHead(404).end(); return }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(body)
    })
    server.maxConnections = Infinity
    await new Promise((resolve) => server.listen(0, '127.0.0.1', 511, resolve))
    port = server.address().port
  } else {
    throw new Error(`unknown server ${kind}`)
  }
  process.send({ port })
}

function rssKiB (pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m[1])
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function get (port, path) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`)
  return res.text()
}

/** Opens one connection per request; resolves, once all are opened, with a promise of their answers. */
function openRequests (port, n) {
  const done = []
  const sockets = []
  let opened = 0
  return new Promise((resolve, reject) => {
    const next = () => {
      // Open in slices of 200 so the listen backlog never overflows.
      const upto = Math.min(n, opened + 200)
      for (; opened < upto; opened++) {
        const s = net.connect(port, '127.0.0.1')
        sockets.push(s)
        done.push(new Promise((resolve, reject) => {
          let data = ''
          s.on('data', (d) => { data += d; if (data.includes('\r\n\r\nok') || /\r\n\r\n[0-9a-f]+\r\nok/.test(data)) { s.destroy(); resolve(data) } })
          s.on('error', reject)
          s.on('close', () => resolve(data))
        }))
        s.on('connect', () => s.write('GET /hold HTTP/1.1\r\nhost: bench\r\n\r\n'))
      }
      if (opened < n) setTimeout(next, 5)
      // Wrapped: resolving with the promise itself would wait for every answer.
      else resolve({ all: Promise.all(done), sockets })
    }
    next()
  })
}

async function round (port, n, pid) {
  const { all } = await openRequests(port, n)
  const deadline = Date.now() + 120_000
  let waiting = 0
  while ((waiting = Number(await get(port, '/waiting'))) < n) {
    if (Date.now() > deadline) throw new Error(`only ${waiting} of ${n} requests reached the handler`)
    await sleep(100)
  }
  await sleep(500)
  const held = rssKiB(pid)
  await get(port, '/release')
  const answers = await all
  const ok = answers.filter((a) => a.startsWith('HTTP/1.1 200')).length
  if (ok !== n) throw new Error(`${n - ok} of ${n} held requests did not answer 200`)
  await sleep(1000)
  return held
}

async function main () {
  const kind = opt('server', 'armature')
  const n = Number(opt('n', 5000))
  const rounds = Number(opt('rounds', 3))
  const self = fileURLToPath(import.meta.url)
  const proc = fork(self, ['child', kind], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const { port } = await new Promise((resolve) => proc.once('message', resolve))
  try {
    await get(port, '/waiting')
    const idle = rssKiB(proc.pid)
    await round(port, n, proc.pid) // warm-up: heaps, pools and buffers grow to size once
    const base = rssKiB(proc.pid)
    const perRequest = []
    for (let i = 0; i < rounds; i++) {
      const before = rssKiB(proc.pid)
      const held = await round(port, n, proc.pid)
      perRequest.push((held - before) * 1024 / n)
    }
    perRequest.sort((a, b) => a - b)
    const median = perRequest[Math.floor(perRequest.length / 2)]
    console.log(JSON.stringify({
      server: kind,
      inFlight: n,
      idleRssKiB: idle,
      afterWarmupRssKiB: base,
      bytesPerInFlightRequest: perRequest.map(Math.round),
      medianBytes: Math.round(median)
    }))
  } finally {
    proc.kill('SIGKILL')
  }
}

// Last, so every const above is initialised before it runs.
if (args[0] === 'child') await child(args[1])
else await main()
