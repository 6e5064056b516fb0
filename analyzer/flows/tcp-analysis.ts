// Wireshark's TCP sequence analysis (the tcp.analysis.* flags), one packet at
// a time, in capture order — what tshark does in its single pass. The rules
// follow epan/dissectors/packet-tcp.c (tcp_analyze_sequence_number() and the
// conversation / window-scaling code of dissect_tcp()) as of Wireshark 4.0,
// and the golden test (test/golden/session-tshark.test.ts) holds us to
// tshark 4.0.17 frame by frame on the shared captures.
//
// Definitions (seglen = payload bytes; "nextseq" = the highest seq + seglen
// (+1 for SYN/FIN) this direction has sent; "lastack"/"window" = the ack and
// raw 16-bit window of this direction's previous segment):
//
// - zero-window-probe: 1 byte at exactly nextseq while the peer's window is 0.
// - zero-window: window 0 on a segment without SYN/FIN/RST.
// - lost-segment ("previous segment not captured"): seq beyond nextseq (not RST).
// - keep-alive: 0 or 1 byte at nextseq − 1, no SYN/FIN/RST.
// - window-update: no payload, same seq (= nextseq) and ack as before, a new
//   non-zero window.
// - window-full: the payload ends exactly at the peer's advertised edge
//   (lastack + window << scale); only when the peer's scaling is known.
// - keep-alive-ack: no payload, same seq/ack/window, after a keep-alive from the peer.
// - zero-window-probe-ack: the same after a zero-window probe (window 0).
// - duplicate-ack (with its number): no payload, same seq/ack/non-zero window
//   as the previous segment of this direction.
// - ack-lost-segment ("ACKed unseen segment"): acknowledges beyond what the
//   peer was seen to send.
// - spurious-retransmission: payload entirely at or below what the peer
//   already acknowledged.
// - fast-retransmission: does not advance nextseq, ≥ 2 dup acks from the
//   peer for exactly this seq, within 20 ms of the last one.
// - out-of-order: does not advance nextseq, within max(iRTT, 3 ms when the
//   iRTT is unknown) of the segment that set nextseq, and does not end at nextseq.
// - retransmission: any other segment with payload (or SYN/FIN) that does
//   not advance nextseq. (Wireshark also shows its "retransmission" field on
//   fast and spurious retransmissions; so does retransmissionField().)
// - reused-ports: a SYN on a 4-tuple whose sender already used another ISN
//   (a new tcp.stream starts), or a SYN/ACK with another ISN than before.
//
// Wireshark's quirks are kept where they decide a flag: a nextseq, lastack or
// maxseqtobeacked of 0 means "not known yet"; windows are compared raw
// (unscaled); the initial window is 0xFFFFFFFF. Everything is mod 2^32.
//
// Allocation-free: state lives in two TcpDirState objects per session.

import {TCP_FLAG} from '../wire/tcp.js'

/** Bits of a packet's analysis flags (the values of packet-tcp.c's TCP_A_*). */
export const TCP_A = {
  RETRANSMISSION: 0x0001,
  LOST_SEGMENT: 0x0002,
  ACK_LOST_SEGMENT: 0x0004,
  KEEP_ALIVE: 0x0008,
  DUPLICATE_ACK: 0x0010,
  ZERO_WINDOW: 0x0020,
  ZERO_WINDOW_PROBE: 0x0040,
  ZERO_WINDOW_PROBE_ACK: 0x0080,
  KEEP_ALIVE_ACK: 0x0100,
  OUT_OF_ORDER: 0x0200,
  FAST_RETRANSMISSION: 0x0400,
  WINDOW_UPDATE: 0x0800,
  WINDOW_FULL: 0x1000,
  REUSED_PORTS: 0x2000,
  SPURIOUS_RETRANSMISSION: 0x4000,
} as const

/** Our names of the flags (JSON keys, table headers), in bit order. */
export const ANOMALY_NAMES = [
  'retransmission', 'lost-segment', 'ack-lost-segment', 'keep-alive', 'duplicate-ack', 'zero-window',
  'zero-window-probe', 'zero-window-probe-ack', 'keep-alive-ack', 'out-of-order', 'fast-retransmission',
  'window-update', 'window-full', 'reused-ports', 'spurious-retransmission',
] as const
export type AnomalyName = (typeof ANOMALY_NAMES)[number]

/** The tshark field of each flag, in bit order. */
export const TSHARK_FIELDS = [
  'tcp.analysis.retransmission', 'tcp.analysis.lost_segment', 'tcp.analysis.ack_lost_segment', 'tcp.analysis.keep_alive',
  'tcp.analysis.duplicate_ack', 'tcp.analysis.zero_window', 'tcp.analysis.zero_window_probe',
  'tcp.analysis.zero_window_probe_ack', 'tcp.analysis.keep_alive_ack', 'tcp.analysis.out_of_order',
  'tcp.analysis.fast_retransmission', 'tcp.analysis.window_update', 'tcp.analysis.window_full',
  'tcp.analysis.reused_ports', 'tcp.analysis.spurious_retransmission',
] as const

export const ANOMALY_BITS = ANOMALY_NAMES.length

/** Any of the three retransmission kinds (Wireshark shows tcp.analysis.retransmission on all three). */
export const ANY_RETRANSMISSION = TCP_A.RETRANSMISSION | TCP_A.FAST_RETRANSMISSION | TCP_A.SPURIOUS_RETRANSMISSION

/** The flags as tshark's tcp.analysis.retransmission field shows them. */
export function retransmissionField(flags: number): boolean {
  return (flags & ANY_RETRANSMISSION) !== 0
}

export function anomalyNames(flags: number): AnomalyName[] {
  const out: AnomalyName[] = []
  for (let i = 0; i < ANOMALY_BITS; i++) if (flags & (1 << i)) out.push(ANOMALY_NAMES[i])
  return out
}

/** Window scale: a shift 0..14, or unknown (the SYN was not seen) or none (not negotiated). */
export const WSCALE_UNKNOWN = -1
export const WSCALE_NONE = -2

const SYN_FIN_RST = TCP_FLAG.SYN | TCP_FLAG.FIN | TCP_FLAG.RST

/** Per-direction analysis state (Wireshark's tcp_flow_t + tcp_analyze_seq_flow_info_t). */
export class TcpDirState {
  baseSeqSet = false
  /** ISN (when the SYN was seen) or first seq − 1, or the peer's first ack − 1. */
  baseSeq = 0
  sawSyn = false
  /** Highest seq + len (+1 for SYN/FIN) sent; 0 = not known. */
  nextSeq = 0
  nextSeqFrame = 0
  nextSeqSec = 0
  nextSeqNsec = 0
  /** Highest contiguous seq to be acknowledged; 0 = not known. */
  maxSeqToBeAcked = 0
  /** Ack field of this direction's previous segment. */
  lastAck = 0
  lastAckSec = 0
  lastAckNsec = 0
  /** Raw 16-bit window of this direction's previous segment (0xFFFFFFFF before the first). */
  window = 0xffffffff
  /** Window-scale shift this direction's windows are scaled by, or WSCALE_UNKNOWN / WSCALE_NONE. */
  winScale = WSCALE_UNKNOWN
  /** Between this direction's SYN and its first pure ACK (its window is not scaled yet). */
  isFirstAck = false
  dupAckNum = 0
  lastNonDupAck = 0
  /** Analysis flags of this direction's previous segment. */
  lastSegmentFlags = 0

  reset(): void {
    this.baseSeqSet = false
    this.baseSeq = 0
    this.sawSyn = false
    this.nextSeq = 0
    this.nextSeqFrame = 0
    this.nextSeqSec = 0
    this.nextSeqNsec = 0
    this.maxSeqToBeAcked = 0
    this.lastAck = 0
    this.lastAckSec = 0
    this.lastAckNsec = 0
    this.window = 0xffffffff
    this.winScale = WSCALE_UNKNOWN
    this.isFirstAck = false
    this.dupAckNum = 0
    this.lastNonDupAck = 0
    this.lastSegmentFlags = 0
  }
}

/** Connection-wide analysis state (the parts of Wireshark's tcp_analysis the flags use). */
export class TcpAnalysisState {
  /** Time of the most recent pure SYN (0/0 = none). */
  mruSynSec = 0
  mruSynNsec = 0
  hasMruSyn = false
  /** First RTT: most recent SYN → first pure ACK, in ns; -1 until seen. */
  firstRttNs = -1
}

/** Output of analyzeSegment(): the duplicate-ACK number of the packet (0 when not a dup ack). */
export const analysisOut = {dupAckNum: 0}

function gt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0
}
function lt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0
}
function le(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0
}

/** b − a in ns (times as seconds + nanoseconds). */
function deltaNs(aSec: number, aNsec: number, bSec: number, bNsec: number): number {
  return (bSec - aSec) * 1e9 + (bNsec - aNsec)
}

/**
 * Wireshark's tcp_analyze_sequence_number() for one segment with known
 * length, sent by `fwd` to `rev`. `flags` is what the packet already carries
 * (e.g. REUSED_PORTS); returns them with this segment's analysis flags added.
 */
export function analyzeSegment(
  conn: TcpAnalysisState, fwd: TcpDirState, rev: TcpDirState,
  frame: number, tsSec: number, tsNsec: number,
  seq: number, ack: number, seglen: number, tcpFlags: number, window: number, flags: number,
): number {
  analysisOut.dupAckNum = 0
  if (!fwd.baseSeqSet) {
    if (tcpFlags & TCP_FLAG.SYN) {
      fwd.baseSeq = seq
      fwd.sawSyn = true
    } else fwd.baseSeq = (seq - 1) >>> 0
    fwd.baseSeqSet = true
  }
  if (!rev.baseSeqSet && (tcpFlags & TCP_FLAG.ACK)) {
    rev.baseSeq = (ack - 1) >>> 0
    rev.baseSeqSet = true
  }
  const noSfr = (tcpFlags & SYN_FIN_RST) === 0

  findRetrans: {
    // ZERO WINDOW PROBE
    if (seglen === 1 && seq === fwd.nextSeq && rev.window === 0) {
      flags |= TCP_A.ZERO_WINDOW_PROBE
      break findRetrans
    }
    // ZERO WINDOW
    if (window === 0 && noSfr) flags |= TCP_A.ZERO_WINDOW
    // LOST SEGMENT
    if (fwd.nextSeq !== 0 && gt(seq, fwd.nextSeq) && (tcpFlags & TCP_FLAG.RST) === 0) flags |= TCP_A.LOST_SEGMENT
    // KEEP ALIVE
    if ((seglen === 0 || seglen === 1) && seq === ((fwd.nextSeq - 1) >>> 0) && noSfr) flags |= TCP_A.KEEP_ALIVE
    // WINDOW UPDATE
    if (seglen === 0 && window !== 0 && window !== fwd.window && seq === fwd.nextSeq && ack === fwd.lastAck && noSfr) {
      flags |= TCP_A.WINDOW_UPDATE
    }
    // WINDOW FULL
    if (seglen > 0 && rev.winScale !== WSCALE_UNKNOWN && noSfr) {
      const shift = rev.isFirstAck ? 0 : rev.winScale === WSCALE_NONE ? 0 : rev.winScale
      const edge = (rev.lastAck + ((rev.window << shift) >>> 0)) >>> 0
      if (((seq + seglen) >>> 0) === edge) flags |= TCP_A.WINDOW_FULL
    }
    // KEEP ALIVE ACK
    if (seglen === 0 && window !== 0 && window === fwd.window && seq === fwd.nextSeq && ack === fwd.lastAck &&
      (rev.lastSegmentFlags & TCP_A.KEEP_ALIVE) && noSfr) {
      flags |= TCP_A.KEEP_ALIVE_ACK
      break findRetrans
    }
    // ZERO WINDOW PROBE ACK
    if (seglen === 0 && window === 0 && window === fwd.window && seq === fwd.nextSeq && ack === fwd.lastAck &&
      (rev.lastSegmentFlags & TCP_A.ZERO_WINDOW_PROBE) && noSfr) {
      flags |= TCP_A.ZERO_WINDOW_PROBE_ACK
      break findRetrans
    }
    // DUPLICATE ACK
    if (seglen === 0 && window !== 0 && window === fwd.window && seq === fwd.nextSeq && ack === fwd.lastAck && noSfr) {
      fwd.dupAckNum = fwd.dupAckNum === -1 ? 1 : fwd.dupAckNum + 1
      flags |= TCP_A.DUPLICATE_ACK
      analysisOut.dupAckNum = fwd.dupAckNum
    }
  }
  // finished_fwd: a new ack number resets the dup-ack count
  if (ack !== fwd.lastAck) {
    fwd.lastNonDupAck = frame
    fwd.dupAckNum = 0
  }
  // ACKED LOST PACKET ("ACKed segment that wasn't captured"). The peer's
  // 'max seq to be acked' then jumps to its nextseq, and the flag is not
  // repeated while the peer sends nothing with a new ack (dupAckNum −1).
  // This is what tshark 4.0.17 does on the shared captures; the Wireshark
  // sources we read (packet-tcp.c after 4.0) jump only when that value is
  // beyond nextseq, which would flag http-206_example_b.pcap frame 979 too.
  if (rev.maxSeqToBeAcked !== 0 && gt(ack, rev.maxSeqToBeAcked) && (tcpFlags & TCP_FLAG.ACK)) {
    if (rev.dupAckNum === 0) flags |= TCP_A.ACK_LOST_SEGMENT
    rev.dupAckNum = -1
    rev.maxSeqToBeAcked = rev.nextSeq
  }
  // RETRANSMISSION / FAST RETRANSMISSION / SPURIOUS / OUT-OF-ORDER
  if (seglen > 0 || (tcpFlags & (TCP_FLAG.SYN | TCP_FLAG.FIN))) {
    retrans: {
      let seqNotAdvanced = fwd.nextSeq !== 0 && lt(seq, fwd.nextSeq)
      if (flags & TCP_A.KEEP_ALIVE) break retrans
      if (seglen > 1 && ((fwd.nextSeq - 1) >>> 0) === seq) seqNotAdvanced = false
      if (seglen > 0 && rev.lastAck !== 0 && le((seq + seglen) >>> 0, rev.lastAck)) {
        flags |= TCP_A.SPURIOUS_RETRANSMISSION
        break retrans
      }
      // fast retransmission (takes precedence over out-of-order: fastrt_supersedes_ooo)
      if (seqNotAdvanced && rev.dupAckNum >= 2 && rev.lastAck === seq &&
        deltaNs(rev.lastAckSec, rev.lastAckNsec, tsSec, tsNsec) < 20_000_000) {
        flags |= TCP_A.FAST_RETRANSMISSION
        break retrans
      }
      const ooThres = conn.firstRttNs <= 0 ? 3_000_000 : conn.firstRttNs
      const nextAfter = (seq + seglen + ((tcpFlags & (TCP_FLAG.SYN | TCP_FLAG.FIN)) ? 1 : 0)) >>> 0
      if (seqNotAdvanced && deltaNs(fwd.nextSeqSec, fwd.nextSeqNsec, tsSec, tsNsec) < ooThres && fwd.nextSeq !== nextAfter) {
        flags |= TCP_A.OUT_OF_ORDER
        break retrans
      }
      if (seqNotAdvanced) flags |= TCP_A.RETRANSMISSION
    }
  }
  // finished_checking_retransmission_type
  // SYN and FIN occupy one sequence number. (packet-tcp.c adds it only while
  // it holds fewer than 10000 unacknowledged segments; we always do.)
  let nextseq = (seq + seglen) >>> 0
  if (tcpFlags & (TCP_FLAG.SYN | TCP_FLAG.FIN)) nextseq = (nextseq + 1) >>> 0
  if (gt(nextseq, fwd.nextSeq) || fwd.nextSeq === 0) {
    if (!(flags & TCP_A.ZERO_WINDOW_PROBE)) {
      fwd.nextSeq = nextseq
      fwd.nextSeqFrame = frame
      fwd.nextSeqSec = tsSec
      fwd.nextSeqNsec = tsNsec
    }
  }
  if (seq === fwd.maxSeqToBeAcked || fwd.maxSeqToBeAcked === 0) {
    if (!(flags & TCP_A.ZERO_WINDOW_PROBE)) fwd.maxSeqToBeAcked = fwd.nextSeq
  }
  fwd.window = window
  fwd.lastAck = ack
  fwd.lastAckSec = tsSec
  fwd.lastAckNsec = tsNsec
  fwd.lastSegmentFlags = flags
  return flags
}

/**
 * What dissect_tcp() does around the analysis, after it: SYN / first-ACK
 * bookkeeping, the first RTT, the window-scale option and its check.
 * `wscale` is the packet's window-scale option shift, -1 when absent.
 */
export function afterSegment(conn: TcpAnalysisState, fwd: TcpDirState, rev: TcpDirState,
  tsSec: number, tsNsec: number, tcpFlags: number, wscale: number): void {
  const synAck = tcpFlags & (TCP_FLAG.SYN | TCP_FLAG.ACK)
  if (tcpFlags & TCP_FLAG.SYN) {
    if (!(tcpFlags & TCP_FLAG.ACK)) {
      conn.mruSynSec = tsSec
      conn.mruSynNsec = tsNsec
      conn.hasMruSyn = true
    }
    fwd.isFirstAck = true
  }
  if (synAck === TCP_FLAG.ACK) {
    if (conn.hasMruSyn && conn.firstRttNs < 0) conn.firstRttNs = deltaNs(conn.mruSynSec, conn.mruSynNsec, tsSec, tsNsec)
    fwd.isFirstAck = false
  }
  if (wscale >= 0) fwd.winScale = wscale > 14 ? 14 : wscale
  if (tcpFlags & TCP_FLAG.SYN) {
    // verify_tcp_window_scaling(): both SYNs must carry the option
    if (fwd.winScale === WSCALE_UNKNOWN) {
      fwd.winScale = WSCALE_NONE
      rev.winScale = WSCALE_NONE
    } else if ((tcpFlags & TCP_FLAG.ACK) && rev.winScale === WSCALE_NONE) {
      fwd.winScale = WSCALE_NONE
    }
  }
}
