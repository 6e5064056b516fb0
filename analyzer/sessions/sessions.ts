// The `sessions` pipeline: read → decode → track TCP sessions, one capture
// file at a time, into one SessionRow per TCP connection per vantage point.
//
// Vantage points: for now every (file, capture interface) is its own vantage
// point and a connection seen at several points is listed once per point;
// merging the views of one connection (and telling handed-off connections
// apart) is the job of the handoff correlation, which will fill the columns
// that are null / 'plain' here: kind, hid, backend, handoffLatencyMs.
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

/**
 * What a connection is in a handoff cluster. Only 'plain' is produced so far
 * (no handoff correlation yet): 'handoff' (served by a back-end), 'fallback'
 * (handoff-nack, served by the front-end), 'local' (served by the front-end
 * without a handoff) come with the correlation.
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
  // ---- handoff correlation: not done yet, so always these values ----
  kind: SessionKind
  hid: string | null
  backend: string | null
  handoffLatencyMs: number | null
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
  onRow(row: SessionRow): void
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
    kind: 'plain', hid: null, backend: null, handoffLatencyMs: null,
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
    onSession: (s) => opts.onRow(sessionRow(file, s, names[s.scope] ?? null)),
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
}

export function matches(r: SessionRow, f: SessionFilter): boolean {
  if (f.client && f.client.length > 0 && !f.client.includes(r.client)) return false
  if (f.server && f.server.length > 0 && !f.server.includes(r.server)) return false
  if (f.state && f.state.length > 0 && !f.state.includes(r.state)) return false
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
    anomalies: Partial<Record<AnomalyName, number>>
    tcpPackets: number
    vantagePoints: number
  }
  /** What the rows do not do yet. */
  notes: string[]
}

/** Every file in turn; rows filtered as they come, so only shown rows are kept. */
export async function collectSessions(paths: string[], filter: SessionFilter, opts: {flagged?: boolean; verifyChecksums?: boolean} = {}): Promise<SessionsReport> {
  const rows: SessionRow[] = []
  const files: FileSessionsResult[] = []
  const byState: Partial<Record<ConnState, number>> = {}
  const anomalies: Partial<Record<AnomalyName, number>> = {}
  const points = new Set<string>()
  let total = 0
  let flagged: FlaggedPacket[] | undefined
  const order = new Map<string, number>()
  for (const path of paths) {
    order.set(displayName(path), order.size)
    const pending: FlaggedPacket[] = []
    const shownStreams = new Set<number>()
    const r = await fileSessions(path, {
      verifyChecksums: opts.verifyChecksums,
      onRow: (row) => {
        total++
        byState[row.state] = (byState[row.state] ?? 0) + 1
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
  rows.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.interface - b.interface || a.firstFrame - b.firstFrame)
  const notes = [
    'each (file, interface) is its own vantage point: a connection seen at several points is listed once per point (merging them is not done yet)',
    'kind, hid, backend and handoff latency come from the handoff correlation, not done yet: every session is kind "plain"',
  ]
  return {
    files, rows, ...(flagged ? {flagged} : {}),
    summary: {sessions: total, shown: rows.length, byState, anomalies,
      tcpPackets: files.reduce((n, f) => n + f.tcpPackets, 0), vantagePoints: points.size},
    notes,
  }
}
