// A node's web server: HTTP/1.1 on port 80 inside the node's stack
// namespace, serving the deterministic body of every path (config.ts:
// expectedBody) with its own node name in the first line, so a client can
// tell which node served a request and check the body byte for byte.
//
// Usage (started by `handoff lab up`): node server.js --state LAB.json --node n1
import {createServer} from 'node:http'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {readFileSync} from 'node:fs'
import {contentOverridePath, expectedBody, HTTP_PORT, targetPath, type LabState} from './config.js'

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0 || i + 1 >= process.argv.length) {
    console.error(`server: --${name} is required`)
    process.exit(2)
  }
  return process.argv[i + 1]
}

const st = JSON.parse(readFileSync(arg('state'), 'utf8')) as LabState
const nodeName = arg('node')
const node = st.nodes.find((n) => n.name === nodeName)
if (!node) {
  console.error(`server: no node ${nodeName} in the lab state`)
  process.exit(2)
}

// The content override (config.ts: contentOverridePath), read per request
// so it can change while the lab runs; unreadable or malformed = none.
function overridden(path: string): Buffer | undefined {
  let text: string
  try {
    text = readFileSync(contentOverridePath(st, nodeName), 'utf8')
  } catch {
    return undefined
  }
  try {
    const v = (JSON.parse(text) as Record<string, unknown>)[path]
    return typeof v === 'string' ? Buffer.from(v, 'utf8') : undefined
  } catch {
    console.error(`server ${nodeName}: ignoring a malformed ${contentOverridePath(st, nodeName)}`)
    return undefined
  }
}

let served = 0
let resets = 0
const server = createServer((req, res) => {
  const path = targetPath(req.url ?? '/')
  const body = overridden(path) ?? expectedBody(path, nodeName)
  served++
  res.writeHead(200, {'content-type': 'text/plain', 'content-length': body.length, 'x-served-by': nodeName, connection: 'close'})
  res.end(body)
})
// A connection handed off to another node is reset by this node's daemon
// (spec §2 step 9): the server sees the reset and drops it — not an error.
server.on('clientError', (_err, socket) => {
  resets++
  socket.destroy()
})
server.on('connection', (s) => s.on('error', () => resets++))
server.keepAliveTimeout = 1000
server.listen(HTTP_PORT, '0.0.0.0', () => {
  writeFileSync(join(st.stateDir, `${nodeName}.server.ready`), `${process.pid}\n`)
  console.log(`server ${nodeName} listening on ${node.addr}:${HTTP_PORT}`)
})
process.on('SIGTERM', () => {
  console.log(`server ${nodeName}: served ${served}, resets ${resets}`)
  process.exit(0)
})
