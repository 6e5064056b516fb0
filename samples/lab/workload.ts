// The lab's client: real HTTP/1.1 requests (raw sockets, Connection: close,
// so every request is its own TCP connection) from the client namespace to the
// nodes' addresses, every body checked byte for byte against the body the
// node chosen by the policy must serve.
//
// Usage (started by `handoff lab run` inside the client namespace):
//   node workload.js PLAN.json      → one JSON document (WorkloadResult) on stdout
import {connect} from 'node:net'
import {readFileSync} from 'node:fs'
import {expectedBody, targetPath} from './config.js'

export interface WorkloadItem {
  /** Front-end: the node address the client connects to (the VIP). */
  vip: string
  fe: string
  path: string
  /** The node the policy says must serve it. */
  expect: string
  clientAddr: string
  localPort: number
}

export interface WorkloadPlan {
  items: WorkloadItem[]
  concurrency: number
  timeoutMs: number
}

export interface WorkloadOutcome {
  i: number
  ok: boolean
  stalled: boolean
  servedBy?: string
  error?: string
  ms: number
}

export interface WorkloadResult {
  startedAt: number
  elapsedSec: number
  outcomes: WorkloadOutcome[]
}

/** Status code, headers and body of a complete HTTP/1.1 response (connection: close), or why it is not one. */
function parseResponse(buf: Buffer): {status: number; body: Buffer} | string {
  const end = buf.indexOf('\r\n\r\n')
  if (end < 0) return `no complete response head in ${buf.length} bytes`
  const head = buf.subarray(0, end).toString('latin1')
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head)
  if (!m) return `not an HTTP/1.x status line: ${JSON.stringify(head.slice(0, 40))}`
  const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head)
  const body = buf.subarray(end + 4)
  if (cl && Number(cl[1]) !== body.length) return `content-length ${cl[1]} but ${body.length} body bytes before the server closed`
  return {status: Number(m[1]), body}
}

/** One request on its own TCP connection (a raw socket: the request goes out as soon as the connection is up). */
function one(it: WorkloadItem, i: number, timeoutMs: number): Promise<WorkloadOutcome> {
  const t0 = performance.now()
  return new Promise((resolve) => {
    let done = false
    const chunks: Buffer[] = []
    const finish = (o: Omit<WorkloadOutcome, 'i' | 'ms'>) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve({i, ms: performance.now() - t0, ...o})
    }
    const sock = connect({host: it.vip, port: 80, localAddress: it.clientAddr, localPort: it.localPort, noDelay: true})
    sock.once('connect', () => {
      sock.write(`GET ${it.path} HTTP/1.1\r\nHost: ${it.vip}\r\nUser-Agent: handoff-lab\r\nConnection: close\r\n\r\n`)
    })
    sock.on('data', (c: Buffer) => chunks.push(c))
    sock.on('error', (e) => finish({ok: false, stalled: false, error: `socket: ${e.message}`}))
    sock.on('end', () => {
      sock.end()
      const r = parseResponse(Buffer.concat(chunks))
      if (typeof r === 'string') return finish({ok: false, stalled: false, error: r})
      const servedBy = /^served-by (\S+) /.exec(r.body.subarray(0, 64).toString('latin1'))?.[1]
      if (r.status !== 200) return finish({ok: false, stalled: false, servedBy, error: `HTTP ${r.status}`})
      const want = expectedBody(targetPath(it.path), it.expect)
      if (!r.body.equals(want)) {
        let at = 0
        while (at < Math.min(r.body.length, want.length) && r.body[at] === want[at]) at++
        return finish({ok: false, stalled: false, servedBy,
          error: `body differs from node ${it.expect}'s at byte ${at} (got ${r.body.length} bytes, want ${want.length}; served by ${servedBy ?? '?'})`})
      }
      finish({ok: true, stalled: false, servedBy})
    })
    const timer = setTimeout(() => {
      finish({ok: false, stalled: true, error: `no complete response within ${timeoutMs} ms (${chunks.reduce((n, c) => n + c.length, 0)} bytes received)`})
      sock.destroy()
    }, timeoutMs)
  })
}

export async function runPlan(plan: WorkloadPlan): Promise<WorkloadResult> {
  const outcomes: WorkloadOutcome[] = new Array(plan.items.length)
  let next = 0
  const startedAt = Date.now()
  const t0 = performance.now()
  const worker = async () => {
    for (;;) {
      const i = next++
      if (i >= plan.items.length) return
      outcomes[i] = await one(plan.items[i], i, plan.timeoutMs)
    }
  }
  await Promise.all(Array.from({length: Math.max(1, plan.concurrency)}, worker))
  return {startedAt, elapsedSec: (performance.now() - t0) / 1000, outcomes}
}

if (process.argv[1] && /workload\.js$/.test(process.argv[1])) {
  const plan = JSON.parse(readFileSync(process.argv[2], 'utf8')) as WorkloadPlan
  const r = await runPlan(plan)
  process.stdout.write(JSON.stringify(r) + '\n')
}
