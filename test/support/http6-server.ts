// A small real HTTP server (node:http, the kernel's TCP) for the IPv6
// end-to-end test of `handoff replay --live`, and the client that asks it
// for the exact bytes it serves (so the test records what the server really
// sends instead of guessing at node's header formatting).
//
//   node http6-server.js serve ADDR PORT [CHANGED] [--together N]
//                                                  → prints "ready", serves until killed
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
// --together N: the responses wait until N connections have been open at
// once (or HOLD_MS have passed; then "hold timeout" is printed). Without it the peak
// depends on the scheduler as much as on the client: a connection served in
// well under a millisecond opens and closes before a client that runs several
// at once, but is itself slowed down (a loaded machine), gets to its next
// handshake. With it, a client that opens N connections without waiting for
// the first to end shows peak N whatever the timing, and one that runs them
// one after another still shows peak 1 (each response released by the
// timeout, which stays below the replayer's 1.5 s response-idle wait).
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

const HOLD_MS = 1000

function serve(addr: string, port: number, changedPath: string | undefined, together: number): void {
  let open = 0
  let peak = 0
  const held: (() => void)[] = []
  // Once N have been open at once, every response goes out at once (held
  // ones and later ones alike: by then the first connections may be closing).
  const releaseIfTogether = () => {
    if (peak >= together) for (const r of held.splice(0)) r()
  }
  const server = createServer((req, res) => {
    res.sendDate = false
    const body = bodyFor(req.url ?? '/', req.url === changedPath)
    const respond = () => {
      res.writeHead(200, {'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body)})
      res.end(body)
    }
    if (peak >= together) return respond()
    const timer = setTimeout(() => {
      const i = held.indexOf(release)
      if (i < 0) return
      held.splice(i, 1)
      console.log('hold timeout')
      respond()
    }, HOLD_MS)
    const release = () => {
      clearTimeout(timer)
      respond()
    }
    held.push(release)
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
    releaseIfTogether()
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

const argv = process.argv.slice(2)
const t = argv.indexOf('--together')
const together = t < 0 ? 1 : Number(argv.splice(t, 2)[1])
const [mode, addr, port, changed] = argv
if (mode === 'serve' && addr && port && Number.isInteger(together) && together >= 1) serve(addr, Number(port), changed, together)
else if (mode === 'fetch' && addr && port) fetchRaw(addr, Number(port))
else if (process.argv[1]?.endsWith('http6-server.js')) {
  console.error('usage: http6-server serve ADDR PORT [CHANGED_PATH] [--together N] | fetch ADDR PORT < request')
  process.exit(2)
}
