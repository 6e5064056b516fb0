// The lab's shared vocabulary: names, addresses, MACs, where state lives, the
// content partition (spec §6) and the deterministic bodies every node serves.
// Used by the CLI (lab up/down/status/run), the daemons, the node servers and
// the workload, so all of them agree on every name and byte.
import {existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, renameSync} from 'node:fs'
import {join} from 'node:path'

/** Prefix of every namespace the lab creates: `ho-<id>-…`. */
export const LAB_PREFIX = 'ho-'
/** Where each lab's state directory lives (one directory per lab id). */
export const STATE_ROOT = process.env.HANDOFF_LAB_STATE_DIR ?? '/run/handoff-lab'
export const HTTP_PORT = 80
export const CONTROL_PORT = 7070
export const MAX_NODES = 9

export interface NodeInfo {
  index: number
  /** Node name as it appears in control messages and bodies: n1, n2, … */
  name: string
  /** Namespace of the node's kernel TCP + HTTP server. */
  stackNs: string
  /** Namespace of the node's handoff daemon (bump in the wire). */
  daemonNs: string
  /** Service address (the VIP when this node is the front-end). */
  addr: string
  /** MAC of the stack's interface. */
  mac: string
  /** The daemon's control-network address. */
  ctlAddr: string
  /** Daemon relay interfaces: toward the stack / toward the LAN; and the control interface. */
  ifInside: string
  ifLan: string
  ifCtl: string
  /** The stack's interface. */
  ifStack: string
  /** The LAN-side bridge ports of this node's relay and control veths (in the LAN namespace). */
  lanPort: string
  ctlPort: string
  daemonPid?: number
  serverPid?: number
}

export interface ClientInfo {
  ns: string
  iface: string
  addrs: string[]
  mac: string
  lanPort: string
}

export interface LabState {
  id: string
  createdAt: string
  nodes: NodeInfo[]
  client: ClientInfo
  lanNs: string
  lanBridge: string
  ctlBridge: string
  namespaces: string[]
  /** URL prefix → node name (spec §6); other paths: stable hash mod N. */
  partition: Record<string, string>
  stateDir: string
  /** Fault the daemons were started with, if any. */
  fault?: string
}

export function validId(id: string): boolean {
  return /^[a-z0-9]{1,6}$/.test(id)
}

export function nsName(id: string, tag: string): string {
  return `${LAB_PREFIX}${id}-${tag}`
}

export function stateDir(id: string): string {
  return join(STATE_ROOT, id)
}

export function stateFile(id: string): string {
  return join(stateDir(id), 'lab.json')
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0')
}

export function nodeMac(i: number): string {
  return `02:77:00:00:00:${hex2(10 + i)}`
}

export const CLIENT_MAC = '02:77:01:00:00:01'

/** The default partition for n nodes: /img/ → n1, /api/ → n2 (when there are two nodes or more). */
export function defaultPartition(n: number): Record<string, string> {
  const p: Record<string, string> = {'/img/': 'n1'}
  if (n >= 2) p['/api/'] = 'n2'
  return p
}

export function planLab(id: string, n: number): LabState {
  if (!validId(id)) throw new Error(`lab id must be 1-6 of [a-z0-9] (got ${JSON.stringify(id)})`)
  if (!Number.isInteger(n) || n < 1 || n > MAX_NODES) throw new Error(`--nodes must be 1..${MAX_NODES} (got ${n})`)
  const nodes: NodeInfo[] = []
  for (let i = 1; i <= n; i++) {
    nodes.push({
      index: i,
      name: `n${i}`,
      stackNs: nsName(id, `s${i}`),
      daemonNs: nsName(id, `d${i}`),
      addr: `10.77.0.${10 + i}`,
      mac: nodeMac(i),
      ctlAddr: `10.77.200.${i}`,
      ifInside: 'in0',
      ifLan: 'lan0',
      ifCtl: 'ctl0',
      ifStack: 'eth0',
      lanPort: `n${i}`,
      ctlPort: `c${i}`,
    })
  }
  const client: ClientInfo = {ns: nsName(id, 'cl'), iface: 'eth0', addrs: ['10.77.1.1', '10.77.1.2'], mac: CLIENT_MAC, lanPort: 'cl'}
  const lanNs = nsName(id, 'lan')
  return {
    id,
    createdAt: new Date().toISOString(),
    nodes,
    client,
    lanNs,
    lanBridge: 'br0',
    ctlBridge: 'brc',
    namespaces: [lanNs, client.ns, ...nodes.flatMap((x) => [x.stackNs, x.daemonNs])],
    partition: defaultPartition(n),
    stateDir: stateDir(id),
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.tmp${process.pid}`
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n')
  renameSync(tmp, path)
}

export function saveState(st: LabState): void {
  mkdirSync(st.stateDir, {recursive: true})
  writeJsonAtomic(stateFile(st.id), st)
}

export function loadState(id: string): LabState | undefined {
  const f = stateFile(id)
  if (!existsSync(f)) return undefined
  return JSON.parse(readFileSync(f, 'utf8')) as LabState
}

/** Ids of labs with a state directory. */
export function listLabIds(): string[] {
  if (!existsSync(STATE_ROOT)) return []
  return readdirSync(STATE_ROOT).filter((d) => validId(d)).sort()
}

// ---------------------------------------------------------------------------
// Content-aware policy (spec §6)

/** FNV-1a 32-bit over the UTF-8 bytes of s: stable across processes and runs. */
export function stableHash(s: string): number {
  let h = 0x811c9dc5
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

/** The path part of a request target (no query). */
export function targetPath(url: string): string {
  const q = url.search(/[?#]/)
  return q < 0 ? url : url.slice(0, q)
}

/** Name of the node that must serve `url` (longest matching prefix, else hash mod N). */
export function chooseNode(url: string, partition: Record<string, string>, nodeNames: string[]): string {
  const path = targetPath(url)
  let best: string | undefined
  let bestLen = -1
  for (const [prefix, node] of Object.entries(partition)) {
    if (path.startsWith(prefix) && prefix.length > bestLen && nodeNames.includes(node)) {
      best = node
      bestLen = prefix.length
    }
  }
  if (best !== undefined) return best
  return nodeNames[stableHash(path) % nodeNames.length]
}

// ---------------------------------------------------------------------------
// Deterministic content

/** Body length for a path: 200 B … ~24 kB, so responses span one to many segments. */
export function bodyLength(path: string): number {
  return 200 + (stableHash('len:' + path) % 24000)
}

/**
 * The body node `node` serves for `path`: a first line naming the node and
 * the path, then lowercase letters from a xorshift32 stream seeded by the
 * path, up to bodyLength(path), ending in a newline. A client that knows
 * which node must serve a path can check the body byte for byte.
 */
export function expectedBody(path: string, node: string): Buffer {
  const head = Buffer.from(`served-by ${node} path ${path}\n`, 'utf8')
  const total = Math.max(bodyLength(path), head.length)
  const out = Buffer.alloc(total)
  head.copy(out, 0)
  let x = stableHash('body:' + path) | 1
  for (let off = head.length; off < total; off++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[off] = 0x61 + ((x >>> 0) % 26)
  }
  if (total > head.length) out[total - 1] = 0x0a
  return out
}

// ---------------------------------------------------------------------------
// Content overrides

/**
 * A node's content override file: JSON, request path → the body to serve
 * instead of expectedBody (UTF-8 text). The node's server reads it on every
 * request, so a test can change one back-end's content while the lab runs
 * (e.g. to show that `handoff replay --live --expect-same-response` reports
 * a changed back-end). Absent file: the deterministic bodies.
 */
export function contentOverridePath(st: Pick<LabState, 'stateDir'>, node: string): string {
  return join(st.stateDir, `${node}.content.json`)
}

/** Writes (replaces) a node's overrides; an empty map restores the deterministic bodies. */
export function setContentOverride(st: Pick<LabState, 'stateDir'>, node: string, bodies: Record<string, string>): void {
  writeJsonAtomic(contentOverridePath(st, node), bodies)
}
