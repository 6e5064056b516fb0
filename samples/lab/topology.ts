// Building and tearing down the lab: namespaces, veths, bridges, addresses,
// the node servers and the handoff daemons (see README-like notes in
// config.ts for names and addresses).
//
//   client ns  eth0 ──┐
//                     │   LAN ns: bridge br0 (cluster LAN), bridge brc (control network)
//   node i:  stack ns eth0 ── in0 [daemon ns] lan0 ── br0
//                                  [daemon ns] ctl0 ── brc
//
// The daemon namespace is a bump in the wire: in0 and lan0 carry no address
// and no IPv6; the daemon captures inbound on each and injects on the other.
import {spawn} from 'node:child_process'
import {closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {CLIENT_MAC, LAB_PREFIX, listLabIds, loadState, planLab, saveState, stateDir, type LabState} from './config.js'
import {addAddress, hasCommand, ipn, listNamespaces, nsAdd, nsDelete, nsExec, veth, LabCommandError} from './sh.js'
import type {DaemonStatus} from './daemon-status.js'
import {loadPcapBinding} from '../../analyzer/capture/live.js'

export interface UpOptions {
  nodes: number
  id?: string
  partition?: Record<string, string>
  fault?: string
  /** Milliseconds to wait for the daemons and servers. Default 15000. */
  readyTimeoutMs?: number
}

/** Throws a LabCommandError saying what is missing: root, `ip`, `ethtool`, libpcap. */
export function checkPrerequisites(): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new LabCommandError('the lab needs root (it creates network namespaces and captures with libpcap): run it with sudo')
  }
  for (const c of ['ip', 'ethtool']) {
    if (!hasCommand(c)) throw new LabCommandError(`\`${c}\` is not installed (the lab needs iproute2 and ethtool)`)
  }
  try {
    loadPcapBinding()
  } catch (e) {
    throw new LabCommandError(`the lab's daemons capture and inject with libpcap: ${(e as Error).message}`)
  }
}

function script(name: string): string {
  return fileURLToPath(new URL(`./${name}.js`, import.meta.url))
}

/** Starts a detached node process inside a namespace, output to a log file; returns its pid. */
export function spawnInNs(ns: string, scriptName: string, args: string[], logFile: string): number {
  if (!ns.startsWith(LAB_PREFIX)) throw new LabCommandError(`refusing to start a process outside the lab (${ns})`)
  const fd = openSync(logFile, 'a')
  try {
    // HANDOFF_LAB_NODE_FLAGS: extra node flags for the lab's processes (e.g. --cpu-prof for profiling).
    const extra = (process.env.HANDOFF_LAB_NODE_FLAGS ?? '').split(/\s+/).filter((x) => x)
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...extra, script(scriptName), ...args], {
      detached: true,
      stdio: ['ignore', fd, fd],
    })
    child.unref()
    if (child.pid === undefined) throw new LabCommandError(`could not start ${scriptName} in ${ns}`)
    return child.pid
  } finally {
    closeSync(fd)
  }
}

export function statusPath(st: LabState, node: string): string {
  return join(st.stateDir, `${node}.status.json`)
}

export function readDaemonStatus(st: LabState, node: string): DaemonStatus | undefined {
  try {
    return JSON.parse(readFileSync(statusPath(st, node), 'utf8')) as DaemonStatus
  } catch {
    return undefined
  }
}

function pidAlive(pid: number | undefined): boolean {
  return pid !== undefined && existsSync(`/proc/${pid}`)
}

function buildNetwork(st: LabState): void {
  for (const ns of st.namespaces) nsAdd(ns)
  const lan = st.lanNs
  for (const br of [st.lanBridge, st.ctlBridge]) {
    ipn(lan, ['link', 'add', br, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0'])
    ipn(lan, ['link', 'set', br, 'up'])
  }
  // client
  const c = st.client
  veth(c.ns, c.iface, lan, c.lanPort, CLIENT_MAC)
  ipn(lan, ['link', 'set', c.lanPort, 'master', st.lanBridge])
  for (const a of c.addrs) addAddress(c.ns, c.iface, `${a}/16`)
  for (const n of st.nodes) {
    // stack ↔ daemon (inside)
    veth(n.stackNs, n.ifStack, n.daemonNs, n.ifInside, n.mac)
    addAddress(n.stackNs, n.ifStack, `${n.addr}/16`)
    // daemon ↔ LAN
    veth(n.daemonNs, n.ifLan, lan, n.lanPort)
    ipn(lan, ['link', 'set', n.lanPort, 'master', st.lanBridge])
    // daemon ↔ control network
    veth(n.daemonNs, n.ifCtl, lan, n.ctlPort)
    ipn(lan, ['link', 'set', n.ctlPort, 'master', st.ctlBridge])
    addAddress(n.daemonNs, n.ifCtl, `${n.ctlAddr}/24`)
    // The relay interfaces stay silent: no address, no IPv6 (already off by
    // default in the namespace; set per interface too, as the notes ask).
    for (const i of [n.ifInside, n.ifLan]) nsExec(n.daemonNs, ['sysctl', '-qw', `net.ipv6.conf.${i}.disable_ipv6=1`])
    // Node n2 gets a smaller receive buffer limit, so its SYN/ACKs announce a
    // smaller window-scale shift than the others': handoffs between n2 and
    // another node then need the §4 window rescale (wsB ≠ wsF).
    if (n.index === 2) nsExec(n.stackNs, ['sysctl', '-qw', 'net.ipv4.tcp_rmem=4096 131072 1048576'])
  }
}

async function waitReady(st: LabState, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  const want = st.nodes.length - 1
  for (;;) {
    const missing: string[] = []
    for (const n of st.nodes) {
      const s = readDaemonStatus(st, n.name)
      if (!s || !s.ready || s.peers.length < want) missing.push(`daemon ${n.name}${s ? ` (${s.peers.length}/${want} control peers)` : ''}`)
      if (!existsSync(join(st.stateDir, `${n.name}.server.ready`))) missing.push(`server ${n.name}`)
      if (!pidAlive(n.daemonPid)) throw new LabCommandError(`daemon ${n.name} exited during start-up; see ${join(st.stateDir, `${n.name}.daemon.log`)}`)
      if (!pidAlive(n.serverPid)) throw new LabCommandError(`server ${n.name} exited during start-up; see ${join(st.stateDir, `${n.name}.server.log`)}`)
    }
    if (missing.length === 0) return
    if (Date.now() > deadline) throw new LabCommandError(`lab not ready after ${timeoutMs} ms: waiting for ${missing.join(', ')}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Creates a lab and starts its servers and daemons. On any failure everything created is removed. */
export async function labUp(opts: UpOptions): Promise<LabState> {
  checkPrerequisites()
  const id = opts.id ?? randomBytes(3).toString('hex').slice(0, 5)
  if (loadState(id) || listNamespaces().some((n) => n.startsWith(`${LAB_PREFIX}${id}-`))) {
    throw new LabCommandError(`a lab with id "${id}" already exists (handoff lab down --id ${id} removes it)`)
  }
  const st = planLab(id, opts.nodes)
  if (opts.partition) st.partition = opts.partition
  if (opts.fault) st.fault = opts.fault
  rmSync(st.stateDir, {recursive: true, force: true})
  mkdirSync(st.stateDir, {recursive: true})
  try {
    saveState(st) // first, so `lab down --id` finds a half-built lab
    buildNetwork(st)
    for (const n of st.nodes) {
      n.serverPid = spawnInNs(n.stackNs, 'server', ['--state', join(st.stateDir, 'lab.json'), '--node', n.name], join(st.stateDir, `${n.name}.server.log`))
      n.daemonPid = spawnInNs(n.daemonNs, 'daemon', ['--state', join(st.stateDir, 'lab.json'), '--node', n.name], join(st.stateDir, `${n.name}.daemon.log`))
      saveState(st)
    }
    await waitReady(st, opts.readyTimeoutMs ?? 15000)
    return st
  } catch (e) {
    labDown(id)
    throw e
  }
}

export interface DownResult {
  id: string
  namespaces: string[]
  killed: number[]
}

/** Removes one lab: its processes, its namespaces (every `ho-<id>-…`, also leftovers of a crash) and its state directory. */
export function labDown(id: string): DownResult {
  const st = loadState(id)
  const killed: number[] = []
  for (const n of st?.nodes ?? []) {
    for (const pid of [n.daemonPid, n.serverPid]) {
      if (pid !== undefined && pidAlive(pid)) {
        try {
          process.kill(pid, 'SIGKILL')
          killed.push(pid)
        } catch {
          /* gone */
        }
      }
    }
  }
  const prefix = `${LAB_PREFIX}${id}-`
  const removed: string[] = []
  for (const ns of listNamespaces()) {
    if (ns.startsWith(prefix)) {
      nsDelete(ns)
      removed.push(ns)
    }
  }
  rmSync(stateDir(id), {recursive: true, force: true})
  return {id, namespaces: removed, killed}
}

/** Removes every lab: those with state and any namespace named `ho-…` (crash leftovers). */
export function labDownAll(): DownResult[] {
  const ids = new Set(listLabIds())
  for (const ns of listNamespaces()) {
    const m = /^ho-([a-z0-9]{1,6})-/.exec(ns)
    if (m) ids.add(m[1])
  }
  return [...ids].sort().map((id) => labDown(id))
}

export interface NodeStatus {
  name: string
  addr: string
  mac: string
  ctlAddr: string
  daemonPid?: number
  daemonAlive: boolean
  serverPid?: number
  serverAlive: boolean
  /** The daemon's status file, without its raw latency samples (see latency). */
  status?: Omit<DaemonStatus, 'latenciesUs'>
  /** Handoff latency (client SYN → handoff-ack) over the daemon's recent samples, µs. */
  latency?: {samples: number; p50Us: number | null; p99Us: number | null}
}

function pct(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

export interface LabStatus {
  id: string
  createdAt: string
  client: {ns: string; addrs: string[]; mac: string}
  partition: Record<string, string>
  fault?: string
  namespaces: {name: string; present: boolean}[]
  nodes: NodeStatus[]
}

export function labStatus(id: string): LabStatus | undefined {
  const st = loadState(id)
  if (!st) return undefined
  const present = new Set(listNamespaces())
  return {
    id: st.id,
    createdAt: st.createdAt,
    client: {ns: st.client.ns, addrs: st.client.addrs, mac: st.client.mac},
    partition: st.partition,
    fault: st.fault,
    namespaces: st.namespaces.map((n) => ({name: n, present: present.has(n)})),
    nodes: st.nodes.map((n) => {
      const full = readDaemonStatus(st, n.name)
      let status: NodeStatus['status']
      let latency: NodeStatus['latency']
      if (full) {
        const {latenciesUs, ...rest} = full
        status = rest
        const sorted = [...latenciesUs].sort((a, b) => a - b)
        latency = {samples: sorted.length, p50Us: pct(sorted, 50), p99Us: pct(sorted, 99)}
      }
      return {
        name: n.name,
        addr: n.addr,
        mac: n.mac,
        ctlAddr: n.ctlAddr,
        daemonPid: n.daemonPid,
        daemonAlive: pidAlive(n.daemonPid),
        serverPid: n.serverPid,
        serverAlive: pidAlive(n.serverPid),
        status,
        latency,
      }
    }),
  }
}
