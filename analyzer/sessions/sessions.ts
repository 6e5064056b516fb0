// The `sessions` pipeline: read → decode → track TCP sessions, one capture
// file at a time, into one SessionRow per TCP connection per vantage point.
//
// Vantage points: every (file, capture interface) is its own vantage point
// and a connection seen at several points is listed once per point (the rows
// are not merged). The handoff columns (kind, hid, frontend, backend,
// handoffLatencyMs) come from the control channel of the same traces
// (handoff.ts): every row of one handed-off connection, at every vantage
// point, carries the same hid. `sessionRow` alone leaves them 'plain' / null;
// `collectSessions` fills them.
//
// Streaming: the tracker keeps only live sessions; rows are built when a
// session finishes and passed to `onRow` (the CLI keeps the rows it shows).

import {closeSync, openSync, readSync} from 'node:fs'
import {readCapture, readCaptureSync, displayName} from '../capture/read.js'
import {CaptureError, type CaptureInterface} from '../capture/types.js'
import {PacketDecoder} from '../wire/decode.js'
import {formatIso} from '../inspect/timestamp.js'
import {SessionTracker, type RolesFrom, type TcpSession} from '../flows/session.js'
import {anomalyNames, ANOMALY_BITS, ANOMALY_NAMES, type AnomalyName} from '../flows/tcp-analysis.js'
import type {ConnState} from '../flows/history.js'
import {CONTROL_PORT} from '../control/messages.js'
import type {VantageAssignment, VantageKind} from '../correlate/vantage.js'
import {normAddr} from '../correlate/assemble.js'
import {correlateHandoffs, HandoffIndex, latencies, type SynSighting} from './handoff.js'

/**
 * What a connection is in a handoff cluster (see handoff.ts for the exact rules):
 * 'handoff' (handoff-req + handoff-ack: served by a back-end), 'fallback'
 * (handoff-req + handoff-nack: served by the front-end), 'local' (to a node's
 * service address, no handoff-req: served by that node), 'plain' (anything else).
 */
export type SessionKind = 'plain' | 'handoff' | 'fallback' | 'local'

export interface DirCounts {
  /** client → server */
  toServer: number
  /** server → client */
  toClient: number
}

export interface SessionRow {
  file: string
  /** Capture interface: with the file, the vantage point. */
  interface: number
  interfaceName: string | null
  /** Session number within the file, 0-based in order of appearance (tshark's tcp.stream). */
  stream: number
  client: string
  clientPort: number
  /** The server (for a handed-off connection: the VIP). */
  server: string
  serverPort: number
  ipVersion: 4 | 6
  /** How the client was told: the SYN sender, the SYN+ACK receiver, or (no handshake seen) the first sender. */
  rolesFrom: RolesFrom
  /** Vantage point kind of this row's view (interface name, file name or --vantage; unknown = lan); null from sessionRow alone. */
  vantage: VantageKind | null
  // ---- handoff correlation (filled by collectSessions) ----
  kind: SessionKind
  /** Handoff id of the control messages (handoff and fallback rows; also a req that got no reply, kind plain). */
  hid: string | null
  /** Node the client connected to: the req's sender (handoff, fallback) or the node whose service address it is (local). */
  frontend: string | null
  /** "node (baddr)" from the handoff-ack (handoff rows only). */
  backend: string | null
  /** Handoff-ack capture time − client SYN capture time, ms, the same on every row of the hid; see handoffLatencyFrom. */
  handoffLatencyMs: number | null
  /** Views whose capture times gave the latency, and whether they share a clock (same file). */
  handoffLatencyFrom: {synView: string; ackView: string; sameClock: boolean} | null
  // ---- plain TCP ----
  /** Zeek conn_state. */
  state: ConnState
  /** Zeek-style history string. */
  history: string
  firstFrame: number
  lastFrame: number
  start: string
  durationSec: number
  packets: DirCounts
  /** Payload bytes without retransmissions. */
  bytes: DirCounts
  /** Payload bytes including retransmissions. */
  payloadBytes: DirCounts
  /** SYN → SYN+ACK, SYN+ACK → ACK, and SYN → ACK (ms); null where a packet was not seen. */
  handshake: {synToSynAckMs: number | null; synAckToAckMs: number | null; totalMs: number | null}
  windowScale: {client: number | 'none' | 'unknown'; server: number | 'none' | 'unknown'}
  /** Packets per analysis flag (Wireshark tcp.analysis), only those that occurred. */
  anomalies: Partial<Record<AnomalyName, number>>
  badChecksums: DirCounts
  /** Started by a SYN reusing the 4-tuple of an earlier session of this file. */
  reusedPorts: boolean
}

/** A packet with analysis flags (collected with `packets: true`). */
export interface FlaggedPacket {
  file: string
  frame: number
  stream: number
  direction: 'to-server' | 'to-client'
  flags: AnomalyName[]
  /** With duplicate-ack: its number. */
  dupAckNum?: number
}

export interface FileSessionsResult {
  file: string
  interfaces: number
  /** TCP packets tracked / left out. */
  tcpPackets: number
  skippedFragments: number
  skippedTruncated: number
  sessions: number
  /** Largest number of sessions held in memory at once. */
  peakLive: number
  error?: {code: string; offset: number; message: string}
}

export interface SessionsOptions {
  onRow(row: SessionRow, session: TcpSession): void
  /** Also report every flagged packet. */
  onFlagged?(p: FlaggedPacket): void
  verifyChecksums?: boolean
  closedLingerSec?: number
}

function ms(aSec: number, aNsec: number, bSec: number, bNsec: number): number | null {
  if (aSec < 0 || bSec < 0) return null
  return Math.round(((bSec - aSec) * 1e9 + (bNsec - aNsec)) / 1e3) / 1e3
}

export function sessionRow(file: string, s: TcpSession, ifaceName: string | null): SessionRow {
  const [c, v] = s.stats
  const anomalies: Partial<Record<AnomalyName, number>> = {}
  for (let i = 0; i < ANOMALY_BITS; i++) if (s.anomalies[i] > 0) anomalies[ANOMALY_NAMES[i]] = s.anomalies[i]
  return {
    file, interface: s.scope, interfaceName: ifaceName, stream: s.id,
    client: s.client, clientPort: s.clientPort, server: s.server, serverPort: s.serverPort, ipVersion: s.ipVersion,
    rolesFrom: s.rolesFrom,
    vantage: null, kind: 'plain', hid: null, frontend: null, backend: null, handoffLatencyMs: null, handoffLatencyFrom: null,
    state: s.state, history: s.history.history,
    firstFrame: s.firstFrame, lastFrame: s.lastFrame, start: formatIso(s.firstSec, s.firstNsec),
    durationSec: Math.round(s.durationSec * 1e9) / 1e9,
    packets: {toServer: c.packets, toClient: v.packets},
    bytes: {toServer: c.bytes, toClient: v.bytes},
    payloadBytes: {toServer: c.payloadBytes, toClient: v.payloadBytes},
    handshake: {
      synToSynAckMs: ms(s.synSec, s.synNsec, s.synAckSec, s.synAckNsec),
      synAckToAckMs: ms(s.synAckSec, s.synAckNsec, s.ackSec, s.ackNsec),
      totalMs: ms(s.synSec, s.synNsec, s.ackSec, s.ackNsec),
    },
    windowScale: {client: s.windowScale(0), server: s.windowScale(1)},
    anomalies,
    badChecksums: {toServer: c.badChecksums, toClient: v.badChecksums},
    reusedPorts: s.reusedPorts,
  }
}

function isGzipFile(path: string): boolean {
  let fd = -1
  try {
    fd = openSync(path, 'r')
    const head = new Uint8Array(2)
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b
  } catch {
    return false
  } finally {
    if (fd >= 0) closeSync(fd)
  }
}

/** Tracks the TCP sessions of one capture file ('-' = stdin). Rows go to opts.onRow as sessions finish. */
export async function fileSessions(path: string, opts: SessionsOptions): Promise<FileSessionsResult> {
  const file = displayName(path)
  const dec = new PacketDecoder({verifyChecksums: opts.verifyChecksums ?? true})
  const names: (string | null)[] = []
  const tracker = new SessionTracker({
    closedLingerSec: opts.closedLingerSec,
    onSession: (s) => opts.onRow(sessionRow(file, s, names[s.scope] ?? null), s),
  })
  const onFlagged = opts.onFlagged
  let error: FileSessionsResult['error']
  const read = path !== '-' && !isGzipFile(path) ? readCaptureSync : readCapture
  try {
    await read(path, {
      onInterface: (i: CaptureInterface) => { names[i.id] = i.name ?? null },
      onPacket: (rec) => {
        dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset)
        const s = tracker.add(dec, rec)
        if (onFlagged !== undefined && s !== null && tracker.flags !== 0) {
          onFlagged({
            file, frame: rec.index, stream: s.id, direction: tracker.fromClient ? 'to-server' : 'to-client',
            flags: anomalyNames(tracker.flags), ...(tracker.dupAckNum > 0 ? {dupAckNum: tracker.dupAckNum} : {}),
          })
        }
      },
    })
  } catch (e) {
    if (!(e instanceof CaptureError)) throw e
    error = {code: e.code, offset: e.offset, message: e.message}
  }
  tracker.finish()
  return {
    file, interfaces: names.length, tcpPackets: tracker.packets, skippedFragments: tracker.skippedFragments,
    skippedTruncated: tracker.skippedTruncated, sessions: tracker.sessions, peakLive: tracker.peakLive,
    ...(error ? {error} : {}),
  }
}

export interface SessionFilter {
  client?: string[]
  server?: string[]
  state?: string[]
  kind?: string[]
  hid?: string[]
  /** Back-end node name or address (handoff rows). */
  backend?: string[]
}

function backendMatches(r: SessionRow, wanted: string[]): boolean {
  if (r.backend === null) return false
  const m = /^(.*) \((.*)\)$/.exec(r.backend)
  return wanted.some((w) => w === r.backend || (m !== null && (w === m[1] || w === m[2])))
}

export function matches(r: SessionRow, f: SessionFilter): boolean {
  if (f.client && f.client.length > 0 && !f.client.includes(r.client)) return false
  if (f.server && f.server.length > 0 && !f.server.includes(r.server)) return false
  if (f.state && f.state.length > 0 && !f.state.includes(r.state)) return false
  if (f.kind && f.kind.length > 0 && !f.kind.includes(r.kind)) return false
  if (f.hid && f.hid.length > 0 && (r.hid === null || !f.hid.includes(r.hid))) return false
  if (f.backend && f.backend.length > 0 && !backendMatches(r, f.backend)) return false
  return true
}

export interface SessionsReport {
  files: FileSessionsResult[]
  /** Rows that passed the filters, by file, interface, first frame. */
  rows: SessionRow[]
  /** Flagged packets of the shown sessions (with `packets`). */
  flagged?: FlaggedPacket[]
  summary: {
    sessions: number
    shown: number
    byState: Partial<Record<ConnState, number>>
    /** Rows (all vantage points) per kind. */
    byKind: Partial<Record<SessionKind, number>>
    /** Handoffs in the control channel (req seen), by outcome; null when the control channel was not read (standard input). */
    handoffs: {total: number; handedOff: number; nacked: number; noReply: number} | null
    anomalies: Partial<Record<AnomalyName, number>>
    tcpPackets: number
    vantagePoints: number
  }
  /** What the rows do not do yet. */
  notes: string[]
}

export interface CollectOptions {
  flagged?: boolean
  verifyChecksums?: boolean
  /** TCP port of the control channel (default 7070). */
  controlPort?: number
  /** Vantage point assignments (--vantage). */
  vantage?: readonly VantageAssignment[]
}

export const KIND_NOTE = 'kind: handoff = a handoff-req names the connection (client ip:port → VIP:port, or → the BE address at the LAN / BE inside) and its hid got a handoff-ack; ' +
  'fallback = the req got a handoff-nack (the FE served it); local = no req names it, but its server is the service address of a node of the control channel ' +
  '(a hello\'s addr, a req\'s vip or an ack\'s baddr), not on the control port; plain = anything else (no control traffic in the traces: every row is plain)'

/**
 * The control channel first (handoffs by hid, node addresses), then every
 * file in turn; rows are classified and filtered as they come, so only shown
 * rows are kept. Standard input can be read once only: with '-' among the
 * paths the control channel is not read and every row stays 'plain'.
 */
export async function collectSessions(paths: string[], filter: SessionFilter, opts: CollectOptions = {}): Promise<SessionsReport> {
  const rows: SessionRow[] = []
  const files: FileSessionsResult[] = []
  const byState: Partial<Record<ConnState, number>> = {}
  const byKind: Partial<Record<SessionKind, number>> = {}
  const anomalies: Partial<Record<AnomalyName, number>> = {}
  const points = new Set<string>()
  let total = 0
  let flagged: FlaggedPacket[] | undefined
  const order = new Map<string, number>()
  const stdin = paths.includes('-')
  const corr = stdin ? null : await correlateHandoffs(paths, opts.controlPort ?? CONTROL_PORT, opts.vantage ?? [])
  const index = corr ? new HandoffIndex(corr) : null
  const syns: SynSighting[] = []
  const ifaceNames = new Map<string, string | null>()
  for (let fi = 0; fi < paths.length; fi++) {
    const path = paths[fi]!
    order.set(displayName(path), order.size)
    const pending: FlaggedPacket[] = []
    const shownStreams = new Set<number>()
    const r = await fileSessions(path, {
      verifyChecksums: opts.verifyChecksums,
      onRow: (row, s) => {
        total++
        ifaceNames.set(`${row.file}#${row.interface}`, row.interfaceName)
        if (index !== null) {
          const view = index.view(fi, row.file, row.interface, row.interfaceName)
          row.vantage = view.kind
          const clientIsn = s.stats[0].isn
          const c = index.classify({client: row.client, clientPort: row.clientPort, server: row.server, serverPort: row.serverPort,
            clientIsn, first: s.firstSec + s.firstNsec / 1e9, last: s.lastSec + s.lastNsec / 1e9})
          row.kind = c.kind
          row.hid = c.hid
          row.frontend = c.frontend
          row.backend = c.backend
          // A latency candidate: this handoff's own SYN (ISN = ciss) to the VIP, at a view that is not the control one.
          const h = c.handoff
          if (h !== null && s.synSec >= 0 && clientIsn === h.ciss && normAddr(row.server) === h.vip && view.kind !== 'control') {
            syns.push({hid: h.hid, t: s.synSec + s.synNsec / 1e9, fileIndex: fi, view})
          }
        }
        byState[row.state] = (byState[row.state] ?? 0) + 1
        byKind[row.kind] = (byKind[row.kind] ?? 0) + 1
        points.add(`${row.file}\u0000${row.interface}`)
        for (const [k, v] of Object.entries(row.anomalies)) anomalies[k as AnomalyName] = (anomalies[k as AnomalyName] ?? 0) + (v ?? 0)
        if (matches(row, filter)) {
          rows.push(row)
          shownStreams.add(row.stream)
        }
      },
      onFlagged: opts.flagged ? (p) => pending.push(p) : undefined,
    })
    files.push(r)
    if (opts.flagged) (flagged ??= []).push(...pending.filter((p) => shownStreams.has(p.stream)))
  }
  if (corr !== null) {
    const lat = latencies(corr, syns, (f, i) => ifaceNames.get(`${f}#${i}`) ?? null)
    for (const row of rows) {
      const l = row.hid === null || row.kind !== 'handoff' ? undefined : lat.get(row.hid)
      if (l === undefined) continue
      row.handoffLatencyMs = l.ms
      row.handoffLatencyFrom = {synView: l.synView, ackView: l.ackView, sameClock: l.sameClock}
    }
  }
  rows.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.interface - b.interface || a.firstFrame - b.firstFrame)
  const notes = [
    'each (file, interface) is its own vantage point: a connection seen at several points is listed once per point (rows are not merged; the rows of one handed-off connection share its hid)',
  ]
  if (corr === null) {
    notes.push('standard input is read once: the control channel was not read, so every session is kind "plain" (give a file to get the handoff columns)')
  } else {
    notes.push(KIND_NOTE)
    if (corr.handoffs.some((h) => h.ackT !== null)) {
      notes.push('handoff latency = capture time of the handoff-ack (control view) − capture time of the client\'s SYN (a view in the same file first, ' +
        'then client side, LAN, node inside); views in different files are different clocks (handoffLatencyFrom.sameClock false)')
    }
  }
  const handoffs = corr === null ? null : {
    total: corr.handoffs.length,
    handedOff: corr.handoffs.filter((h) => h.outcome === 'handed-off').length,
    nacked: corr.handoffs.filter((h) => h.outcome === 'nacked').length,
    noReply: corr.handoffs.filter((h) => h.outcome === 'no-reply').length,
  }
  return {
    files, rows, ...(flagged ? {flagged} : {}),
    summary: {sessions: total, shown: rows.length, byState, byKind, handoffs, anomalies,
      tcpPackets: files.reduce((n, f) => n + f.tcpPackets, 0), vantagePoints: points.size},
    notes,
  }
}
