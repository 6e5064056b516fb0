// Which handed-off connections a replay is about: --hid, --flow, --client.
// Default (no selector): every handed-off connection of the trace. Several
// selectors of one kind are alternatives (OR); different kinds must all hold
// (AND): `--client 10.0.0.7 --hid fe1/3` is fe1/3 only if its client is
// 10.0.0.7.
import {formatIpv6, parseIpv4Bytes, parseIpv6} from '../../analyzer/wire/addr.js'
import type {ControlHandoff} from './control.js'

export class SelectError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SelectError'
  }
}

export interface Endpoint {
  addr: string
  port: number
}

/** A 4-tuple, in either direction. */
export interface FlowSpec {
  a: Endpoint
  b: Endpoint
}

export interface Selection {
  hids?: string[]
  flows?: FlowSpec[]
  clients?: string[]
}

/** Canonical text of an address (RFC 5952 for IPv6); throws SelectError when it is none. */
export function canonicalAddr(s: string, what = 'address'): string {
  try {
    if (s.includes(':')) return formatIpv6(parseIpv6(s), 0)
    parseIpv4Bytes(s)
    return s
  } catch {
    throw new SelectError(`${what} ${JSON.stringify(s)} is not an IPv4 or IPv6 address`)
  }
}

function parseEndpoint(s: string, whole: string): Endpoint {
  // IPv6 as [addr]:port; IPv4 as addr:port.
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:\[\]]+):(\d+)$/.exec(s)
  if (m === null) throw new SelectError(`--flow ${JSON.stringify(whole)}: "${s}" is not ADDR:PORT (IPv6 as [ADDR]:PORT)`)
  const port = Number(m[2])
  if (port > 65535) throw new SelectError(`--flow ${JSON.stringify(whole)}: port ${port} is over 65535`)
  return {addr: canonicalAddr(m[1], `--flow ${JSON.stringify(whole)}:`), port}
}

/** Parses 'A:P-B:Q' ('[v6]:P-[v6]:Q' for IPv6). */
export function parseFlow(s: string): FlowSpec {
  // Split on the '-' between the two endpoints: the one after a port digit
  // followed by an address start.
  const m = /^(.+:\d+)-(.+:\d+)$/.exec(s.trim())
  if (m === null) throw new SelectError(`--flow ${JSON.stringify(s)}: expected A:P-B:Q (IPv6 as [A]:P-[B]:Q)`)
  return {a: parseEndpoint(m[1], s), b: parseEndpoint(m[2], s)}
}

function sameEp(e: Endpoint, addr: string, port: number): boolean {
  return e.port === port && e.addr === addr
}

/** The flow is the client ↔ VIP or the client ↔ BE 4-tuple of the handoff, in either direction. */
export function flowMatches(f: FlowSpec, h: ControlHandoff): boolean {
  const r = h.req.msg
  const cip = canonicalAddr(r.cip)
  const servers = [canonicalAddr(r.vip)]
  if (h.ack !== null) servers.push(canonicalAddr(h.ack.msg.baddr))
  for (const s of servers) {
    if (sameEp(f.a, cip, r.cport) && sameEp(f.b, s, r.vport)) return true
    if (sameEp(f.b, cip, r.cport) && sameEp(f.a, s, r.vport)) return true
  }
  return false
}

export interface SelectionResult {
  selected: ControlHandoff[]
  /** Selectors that matched no handoff of the trace (e.g. "--hid fe1/9"). */
  unmatched: string[]
}

export function selectHandoffs(all: ControlHandoff[], sel: Selection): SelectionResult {
  const hids = sel.hids ?? []
  const flows = (sel.flows ?? []).map((f) => ({f, used: false}))
  const clients = (sel.clients ?? []).map((c) => ({c: canonicalAddr(c, '--client'), raw: c, used: false}))
  const hidUsed = new Set<string>()
  const selected = all.filter((h) => {
    let ok = true
    if (hids.length > 0) {
      const hit = hids.includes(h.hid)
      if (hit) hidUsed.add(h.hid)
      ok &&= hit
    }
    if (flows.length > 0) {
      const hit = flows.filter((x) => flowMatches(x.f, h))
      for (const x of hit) x.used = true
      ok &&= hit.length > 0
    }
    if (clients.length > 0) {
      const cip = canonicalAddr(h.req.msg.cip)
      const hit = clients.filter((x) => x.c === cip)
      for (const x of hit) x.used = true
      ok &&= hit.length > 0
    }
    return ok
  })
  const unmatched = [
    ...hids.filter((h) => !hidUsed.has(h)).map((h) => `--hid ${h}`),
    ...flows.filter((x) => !x.used).map((x) => `--flow ${fmtEp(x.f.a)}-${fmtEp(x.f.b)}`),
    ...clients.filter((x) => !x.used).map((x) => `--client ${x.raw}`),
  ]
  return {selected, unmatched}
}

export function fmtEp(e: Endpoint): string {
  return e.addr.includes(':') ? `[${e.addr}]:${e.port}` : `${e.addr}:${e.port}`
}
