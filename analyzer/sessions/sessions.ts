// The per-view part of `sessions`: read → decode → track TCP sessions, one
// capture file at a time, into one SessionRow per TCP session per vantage
// point (file, capture interface). collect.ts classifies the rows (handoff
// columns from the control channel, handoff.ts) and, by default, merges the
// rows of one client connection (merge.ts). `sessionRow` alone leaves the
// handoff columns 'plain' / null.
//
// Streaming: the tracker keeps only live sessions; rows are built when a
// session finishes and passed to `onRow`.

import {closeSync, openSync, readSync} from 'node:fs'
import {readCapture, readCaptureSync, displayName} from '../capture/read.js'
import {joinSections} from '../capture/join-sections.js'
import {reassembleIp} from '../flows/ip-defrag.js'
import {CaptureError, type CaptureHandlers, type CaptureInterface} from '../capture/types.js'
import {PacketDecoder} from '../wire/decode.js'
import {formatIso} from '../inspect/timestamp.js'
import {SessionTracker, type RolesFrom, type TcpSession} from '../flows/session.js'
import {anomalyNames, ANOMALY_BITS, ANOMALY_NAMES, type AnomalyName} from '../flows/tcp-analysis.js'
import type {ConnState} from '../flows/history.js'
import type {VantageKind} from '../correlate/vantage.js'

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
  /** Name of the trace in rows and errors (default: the path; '<stdin>' for '-'). */
  name?: string
  onInterface?(i: CaptureInterface): void
  /** Every tracked TCP segment, decoded (the decoder is reused: read it now). */
  onTcp?(dec: PacketDecoder, rec: {interfaceId: number; tsSec: number; tsNsec: number}): void
  /** Also report every flagged packet. */
  onFlagged?(p: FlaggedPacket): void
  verifyChecksums?: boolean
  closedLingerSec?: number
  /** Each session as it is created (its row comes later, through onRow). */
  onOpen?(session: TcpSession): void
  /** Before each packet is tracked (the rows of the sessions it finishes go out while it is): its capture time. */
  beforePacket?(t: number): void
  /** fileSessions: the file read, before its sessions left are finished (their rows go out). */
  beforeFinish?(): void
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
  const r = new FileSessionReader(opts.name ?? displayName(path), opts)
  const read = path !== '-' && !isGzipFile(path) ? readCaptureSync : readCapture
  let error: CaptureError | null = null
  try {
    await read(path, r.handlers)
  } catch (e) {
    if (!(e instanceof CaptureError)) throw e
    error = e
  }
  opts.beforeFinish?.()
  return r.finish(error)
}

/**
 * The session tracking of one file as capture handlers, for a caller that reads the file itself (several
 * files read at once, merged by time: capture/merge.ts); finish() once its last record was delivered.
 */
export class FileSessionReader {
  readonly handlers: CaptureHandlers
  private readonly tracker: SessionTracker
  private readonly names: (string | null)[] = []

  constructor(readonly file: string, opts: SessionsOptions) {
    const dec = new PacketDecoder({verifyChecksums: opts.verifyChecksums ?? true})
    const names = this.names
    const tracker = this.tracker = new SessionTracker({
      closedLingerSec: opts.closedLingerSec,
      // One-way legs (the forwarded client → BE leg) would otherwise be held, rows and all, to the end.
      oneWayFinCloses: true,
      onOpen: opts.onOpen,
      onSession: (s) => opts.onRow(sessionRow(file, s, names[s.scope] ?? null), s),
    })
    const onFlagged = opts.onFlagged
    const onTcp = opts.onTcp
    const beforePacket = opts.beforePacket
    this.handlers = joinSections(reassembleIp({
      onInterface: (i: CaptureInterface) => {
        names[i.id] = i.name ?? null
        opts.onInterface?.(i)
      },
      onPacket: (rec) => {
        if (beforePacket !== undefined && rec.hasTimestamp) beforePacket(rec.tsSec + rec.tsNsec / 1e9)
        dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset)
        const s = tracker.add(dec, rec)
        if (s !== null && onTcp !== undefined) onTcp(dec, rec)
        if (onFlagged !== undefined && s !== null && tracker.flags !== 0) {
          onFlagged({
            file, frame: rec.index, stream: s.id, direction: tracker.fromClient ? 'to-server' : 'to-client',
            flags: anomalyNames(tracker.flags), ...(tracker.dupAckNum > 0 ? {dupAckNum: tracker.dupAckNum} : {}),
          })
        }
      },
    }))
  }

  /** The file read (to its end, or to the damage `error`): its sessions left are finished, their rows go out. */
  finish(e: CaptureError | null = null): FileSessionsResult {
    const {file, tracker} = this
    let error: FileSessionsResult['error']
    if (e !== null) {
      if (e.file !== file) e.setFile(file)
      error = {code: e.code, offset: e.offset, message: e.message}
    }
    tracker.finish()
    return {
      file, interfaces: this.names.length, tcpPackets: tracker.packets, skippedFragments: tracker.skippedFragments,
      skippedTruncated: tracker.skippedTruncated, sessions: tracker.sessions, peakLive: tracker.peakLive,
      ...(error ? {error} : {}),
    }
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

/** The fields the filters read (a per-view row or a merged connection). */
type Filterable = Pick<SessionRow, 'client' | 'server' | 'state' | 'kind' | 'hid' | 'backend'>

function backendMatches(r: Filterable, wanted: string[]): boolean {
  if (r.backend === null) return false
  const m = /^(.*) \((.*)\)$/.exec(r.backend)
  return wanted.some((w) => w === r.backend || (m !== null && (w === m[1] || w === m[2])))
}

export function matches(r: Filterable, f: SessionFilter): boolean {
  if (f.client && f.client.length > 0 && !f.client.includes(r.client)) return false
  if (f.server && f.server.length > 0 && !f.server.includes(r.server)) return false
  if (f.state && f.state.length > 0 && !f.state.includes(r.state)) return false
  if (f.kind && f.kind.length > 0 && !f.kind.includes(r.kind)) return false
  if (f.hid && f.hid.length > 0 && (r.hid === null || !f.hid.includes(r.hid))) return false
  if (f.backend && f.backend.length > 0 && !backendMatches(r, f.backend)) return false
  return true
}

