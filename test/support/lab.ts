// Shared by the lab's end-to-end tests: run the real CLI, pick a unique lab
// id, skip (or, under HANDOFF_TEST_STRICT=1, fail) without root and tools,
// and find whatever a lab left behind.
import {execFileSync, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import type {TestContext} from 'node:test'
import {cliBin, hasCommand, isRoot, requireOrSkip} from './env.js'
import {loadState, planLab} from '../../samples/lab/config.js'
import type {Counters} from '../../samples/lab/daemon-status.js'
import {readDaemonStatus} from '../../samples/lab/topology.js'

export function labId(): string {
  return 'e' + randomBytes(3).toString('hex').slice(0, 5)
}

export interface CliResult {
  status: number
  stdout: string
  stderr: string
}

export function cli(args: string[], timeoutMs = 60000): CliResult {
  const r = spawnSync(process.execPath, [cliBin, ...args], {encoding: 'utf8', timeout: timeoutMs, env: {...process.env, NO_COLOR: '1'}})
  return {status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? ''}
}

export function canRunLab(t: TestContext, extra: string[] = []): boolean {
  if (!requireOrSkip(t, isRoot(), 'needs root for network namespaces')) return false
  for (const c of ['ip', 'ethtool', 'curl', ...extra]) if (!requireOrSkip(t, hasCommand(c), `needs ${c}`)) return false
  return true
}

export function labNamespaces(id: string): string[] {
  return execFileSync('ip', ['netns', 'list'], {encoding: 'utf8'})
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n) => n && n.startsWith(`ho-${id}-`))
}

/** What a lab left behind: namespaces, host interfaces linked into its namespaces, its state directory. */
export function leftovers(id: string): string[] {
  const left = labNamespaces(id)
  const links = execFileSync('ip', ['-o', 'link', 'show'], {encoding: 'utf8'})
  for (const l of links.split('\n')) if (l.includes(`ho-${id}-`)) left.push(`host link: ${l.trim()}`)
  if (existsSync(`/run/handoff-lab/${id}`)) left.push(`/run/handoff-lab/${id}`)
  return left
}

/** Always tear a test's lab down, whatever happened. */
export function downQuietly(id: string): void {
  cli(['lab', 'down', '--id', id])
}

/**
 * Waits until every node named in `want` reports at least the given counter
 * values in its status file, for at most timeoutMs; true when they all do.
 * Daemons write their status every 200 ms, much later on a loaded machine: a
 * test that reads it right after some traffic (or acts on what a daemon has
 * done by then) must wait for the effect, not for a fixed time. The test then
 * asserts the exact values, so a daemon that never gets there still fails it.
 */
export async function waitForCounters(id: string, want: Record<string, Partial<Counters>>, timeoutMs = 10000): Promise<boolean> {
  const st = loadState(id)
  if (!st) return false
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = Object.entries(want).every(([node, cs]) => {
      const s = readDaemonStatus(st, node)
      return s !== undefined && Object.entries(cs).every(([k, v]) => s.counters[k as keyof Counters] >= (v as number))
    })
    if (ok) return true
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, 50))
  }
}

export interface LabChecksums {
  /** Frames whose TCP or IPv4 checksum is wrong: "frame iface eth.src ip.src tcp-field/computed". */
  bad: string[]
  /** Frames a kernel sent with the TCP checksum 0xFFFF where a full computation gives 0x0000 (valid; see labChecksums). */
  kernelMinusZero: string[]
}

/**
 * tshark's verdict on every TCP and IPv4 checksum of a recording of lab `id`
 * (`nodes` nodes), with one representation that tshark calls bad taken for
 * what it is where, and only where, a kernel wrote it.
 *
 * 0xFFFF and 0x0000 are the same ones'-complement number (-0 and +0): a
 * segment whose checksum field holds 0xFFFF where a full computation gives
 * 0x0000 sums to 0xFFFF like any valid one, and every receiver takes it, but
 * tshark 4 flags it ("TCP Checksum 0xffff instead of 0x0000 (see RFC 1624)",
 * checksum status bad). Linux writes exactly that: with TX checksum offload
 * off, as the lab sets it on every veth (design notes), skb_checksum_help()
 * stores `csum_fold(csum) ?: CSUM_MANGLED_0`, 0xFFFF whenever the checksum
 * comes out 0 — once in 65536 segments, so about one recording of `lab run
 * --requests 100` in 20 (some 3000 segments sent by the client's, the nodes'
 * and the daemons' kernels) holds one, seen at one to three vantage points.
 *
 * The daemons relay such frames untouched; every frame they rewrite gets the
 * value a full computation gives (RFC 1624 eqn. 3, which never yields -0).
 * So -0 is excused only on a frame that carries its sender's own MAC with
 * its own address (the client's, or node i's stack: what that kernel sent,
 * relayed or not) or on the control network (the daemons' kernel TCP). A
 * frame a daemon forwarded carries the front-end's MAC with the client's
 * address, a returned one the back-end's MAC with the front-end's address:
 * -0 there is still bad, as is any other wrong TCP checksum and every wrong
 * IPv4 header checksum (a kernel's is never -0: a header never sums to 0).
 */
export function labChecksums(pcap: string, id: string, nodes: number): LabChecksums {
  const st = planLab(id, nodes)
  const own = new Set([...st.client.addrs.map((a) => `${st.client.mac}|${a}`), ...st.nodes.map((n) => `${n.mac}|${n.addr}`)])
  const out = execFileSync('tshark', ['-r', pcap, '-o', 'tcp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE',
    '-Y', 'tcp.checksum.status == 0 || ip.checksum.status == 0', '-T', 'fields', '-e', 'frame.number', '-e', 'frame.interface_name',
    '-e', 'eth.src', '-e', 'ip.src', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'tcp.checksum', '-e', 'tcp.checksum_calculated'],
  {encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore']})
  const r: LabChecksums = {bad: [], kernelMinusZero: []}
  for (const line of out.split('\n')) {
    if (!line) continue
    const [frame, iface, eth, ip, ipSt, tcpSt, field, computed] = line.split('\t')
    const desc = `${frame} ${iface} ${eth} ${ip} ${field || '-'}/${computed || '-'}`
    const minusZero = ipSt !== '0' && tcpSt === '0' && Number(field) === 0xffff && Number(computed) === 0
    if (minusZero && (iface === 'control' || own.has(`${eth}|${ip}`))) r.kernelMinusZero.push(desc)
    else r.bad.push(desc)
  }
  return r
}
