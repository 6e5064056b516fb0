// A small real HTTP server (node:http, the kernel's TCP) for the IPv6
// end-to-end test of `handoff replay --live`, and the client that asks it
// for the exact bytes it serves (so the test records what the server really
// sends instead of guessing at node's header formatting).
//
//   node http6-server.js serve ADDR PORT [CHANGED] → prints "ready", serves until killed
//   node http6-server.js fetch ADDR PORT           → request on stdin, raw response (base64) on stdout
//
// The body depends only on the path: a deterministic pseudo-random text
// (xorshift seeded from the path) long enough to take several segments, so
// a comparison checks reassembly, not one packet (?bytes=N sets its length).
// CHANGED names one path whose body has one byte altered in the middle (to
// 'Z', which the normal text never holds); the test's oracle for where the
// replayer must report the difference is a real fetch of both versions.
// No Date header (sendDate off): two fetches of one path are identical.
// "peak N" is printed each time more connections are open at once than
// before: the server's own evidence that the replayer ran them in parallel.
import {createServer} from 'node:http'
import {connect} from 'node:net'

function bodyFor(path: string, changed: boolean): string {
  let x = 0x9e3779b9
  for (const c of path) x = Math.imul(x ^ c.charCodeAt(0), 0x01000193) >>> 0
  // ?bytes=N: the body's length (default 2800, at most 1 MB).
  const n = Math.min(1 << 20, Number(new URL(path, 'http://x').searchParams.get('bytes') ?? 2800) || 2800)
  let s = ''
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    s += i % 61 === 60 ? '\n' : String.fromCharCode(97 + (x % 25)) // a..y: never 'Z'
  }
  if (changed) s = s.slice(0, s.length >> 1) + 'Z' + s.slice((s.length >> 1) + 1)
  return s
}

function serve(addr: string, port: number, changedPath: string | undefined): void {
  let open = 0
  let peak = 0
  const server = createServer((req, res) => {
    res.sendDate = false
    const body = bodyFor(req.url ?? '/', req.url === changedPath)
    res.writeHead(200, {'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body)})
    res.end(body)
  })
  server.on('error', (e) => {
    console.error(`http6-server: ${e.message}`)
    process.exit(1)
  })
  server.on('connection', (sock) => {
    open++
    if (open > peak) {
      peak = open
      console.log(`peak ${peak}`)
    }
    sock.on('close', () => open--)
  })
  server.listen({host: addr, port, ipv6Only: true}, () => console.log('ready'))
}

function fetchRaw(addr: string, port: number): void {
  let req = ''
  process.stdin.setEncoding('latin1')
  process.stdin.on('data', (d: string) => (req += d))
  process.stdin.on('end', () => {
    const chunks: Buffer[] = []
    const s = connect({host: addr, port}, () => s.write(Buffer.from(req, 'latin1')))
    s.on('data', (d: Buffer) => chunks.push(d))
    s.on('end', () => process.stdout.write(Buffer.concat(chunks).toString('base64')))
    s.on('error', (e) => {
      console.error(`http6-server fetch: ${e.message}`)
      process.exit(1)
    })
  })
}

const [mode, addr, port, changed] = process.argv.slice(2)
if (mode === 'serve' && addr && port) serve(addr, Number(port), changed)
else if (mode === 'fetch' && addr && port) fetchRaw(addr, Number(port))
else if (process.argv[1]?.endsWith('http6-server.js')) {
  console.error('usage: http6-server serve ADDR PORT [CHANGED_PATH] | fetch ADDR PORT < request')
  process.exit(2)
}
