// Zeek's connection history string and conn_state, per TCP session.
//
// History letters (Zeek's conn.log `history`): upper case for the
// originator (the client), lower case for the responder.
//   S  a SYN without ACK            H  a SYN+ACK ("handshake")
//   A  a pure ACK (no payload, no SYN/FIN/RST)
//   D  a packet with payload and no SYN/FIN/RST
//   F  a FIN (without SYN/RST)      R  a RST (without SYN/FIN)
//   I  a packet with both FIN and RST ("inconsistent")
//   Q  a packet with SYN+FIN or SYN+RST ("multi-flag")
//   C  a packet with a bad checksum          (scaled, see below)
//   W  a zero-window advertisement           (scaled)
//   T  a packet with retransmitted payload   (scaled)
//   G  a content gap                         (scaled)
//   ^  (first) the roles were flipped: the first packet was a SYN+ACK, so its
//      receiver is the originator.
// S, H, A, D, F, R, I and Q are recorded once per direction, except that S,
// H and R are recorded again for a packet with another sequence number than
// the last one of that kind (F: another end of data), as Zeek does ("SS" =
// the client retried with a new ISN). C, W, T and G are logarithmic: the
// letter is added when that direction's count reaches 1, 10, 100, 1000, …
//
// Where we differ from Zeek: Zeek drops packets with bad checksums after
// noting C; we keep analysing them (as tshark does). T is Zeek's definition
// (payload that does not reach past the highest sequence number the
// direction already sent — so out-of-order segments count too). G is noted
// when a direction's segment starts beyond what it was seen to send
// (Wireshark's "previous segment not captured"), not when an ACK reveals it.
//
// conn_state follows Zeek's conn_state() over a simplified endpoint state
// machine (inactive, SYN sent, SYN+ACK sent, partial, established, closed,
// reset):
//   S0 SYN seen, no reply           S1 established, not closed
//   SF established and closed by both sides (or closed by both sides)
//   REJ attempt rejected (RST answering a SYN)
//   S2 / S3 established, only the originator / responder closed
//   RSTO / RSTR established, then the originator / responder reset
//   RSTOS0 the originator sent a SYN then a RST, no SYN+ACK seen
//   RSTRH the responder sent a SYN+ACK then a RST, no SYN seen
//   SH / SHR the originator sent SYN then FIN / the responder SYN+ACK then FIN, no reply
//   OTH no SYN seen, just midstream traffic

import {TCP_FLAG} from '../wire/tcp.js'

export const enum EndpointState {
  Inactive = 0,
  SynSent = 1,
  SynAckSent = 2,
  Partial = 3,
  Established = 4,
  Closed = 5,
  Reset = 6,
}

export type ConnState = 'S0' | 'S1' | 'SF' | 'REJ' | 'S2' | 'S3' | 'RSTO' | 'RSTR' | 'RSTOS0' | 'RSTRH' | 'SH' | 'SHR' | 'OTH'

// Bits of the once-per-direction letters.
const H_SYN = 1
const H_FIN = 2
const H_RST = 4
const H_ACK = 8
const H_DATA = 16
const H_FIN_RST = 32
const H_MULTI = 64

/** Indexes of the logarithmically scaled letters. */
export const SCALED = {checksum: 0, zeroWindow: 1, retransmission: 2, gap: 3} as const
const SCALED_LETTER = ['C', 'W', 'T', 'G']

// Per-session memory: plain arrays of small numbers, not typed arrays (each
// typed array costs ~200 bytes of V8 heap, whatever its length: seven of them
// made this half of a tracked session's footprint); the thresholds of the
// scaled letters are not stored (the letter is added when a count reaches a
// power of ten), and their counts are allocated at the first one.
/** Offsets in ZeekHistory's `last` array (+ dir): last SYN seq, last FIN end, last RST seq, highest seq end. */
const LAST_SYN = 0
const LAST_FIN = 2
const LAST_RST = 4
const LAST_SEQ = 6
/** Offset in ZeekHistory's `state` array (+ dir) of the once-per-direction letters seen. */
const SEEN = 2

/** Whether n is 1, 10, 100, 1000, … (a scaled letter's next threshold was reached). */
function powerOfTen(n: number): boolean {
  while (n >= 10 && n % 10 === 0) n /= 10
  return n === 1
}

export class ZeekHistory {
  history = ''
  /** [originator, responder] endpoint states, then at SEEN + dir the once-per-direction letters seen (H_* bits): one array, not two. */
  private readonly state: number[] = [EndpointState.Inactive, EndpointState.Inactive, 0, 0]
  /** Per direction, at LAST_* + dir: seq numbers of the last SYN, FIN end, RST and highest end seen (-1: none). */
  private readonly last: number[] = [-1, -1, -1, -1, -1, -1, -1, -1]
  /** Per direction × scaled letter: count; null until the first (most sessions have none). */
  private counts: number[] | null = null

  /** The first packet was a SYN+ACK: its receiver is the originator. */
  flipped(): void {
    if (!this.history.startsWith('^')) this.history = '^' + this.history
  }

  private add(dir: number, c: string): void {
    this.history += dir === 0 ? c : c.toLowerCase()
  }

  private once(dir: number, bit: number, c: string): boolean {
    if (this.state[SEEN + dir] & bit) return true
    this.state[SEEN + dir] |= bit
    this.add(dir, c)
    return false
  }

  /** Counts one event of a scaled letter (C, W, T, G) for `dir` (0 = originator). */
  scaled(dir: number, which: number): void {
    const i = dir * 4 + which
    const counts = this.counts ??= [0, 0, 0, 0, 0, 0, 0, 0]
    if (powerOfTen(++counts[i])) this.add(dir, SCALED_LETTER[which])
  }

  /** How many events of a scaled letter `dir` had. */
  count(dir: number, which: number): number {
    return this.counts === null ? 0 : this.counts[dir * 4 + which]
  }

  /**
   * One packet from `dir` (0 = originator, 1 = responder). `len` = payload
   * bytes. Updates the letters S H A D F R I Q W T and the endpoint states.
   */
  packet(dir: number, flags: number, seq: number, len: number, window: number): void {
    const syn = (flags & TCP_FLAG.SYN) !== 0
    const fin = (flags & TCP_FLAG.FIN) !== 0
    const rst = (flags & TCP_FLAG.RST) !== 0
    const ack = (flags & TCP_FLAG.ACK) !== 0
    const bits = (syn ? 1 : 0) + (fin ? 1 : 0) + (rst ? 1 : 0)
    if (bits > 1) {
      if (fin && rst) this.once(dir, H_FIN_RST, 'I')
      else this.once(dir, H_MULTI, 'Q')
    } else if (bits === 1) {
      if (syn) {
        const code = ack ? 'H' : 'S'
        if (this.once(dir, H_SYN, code) && seq !== this.last[LAST_SYN + dir]) this.add(dir, code)
        this.last[LAST_SYN + dir] = seq
      }
      if (fin) {
        const end = (seq + len) >>> 0
        if (this.once(dir, H_FIN, 'F') && end !== this.last[LAST_FIN + dir]) this.add(dir, 'F')
        this.last[LAST_FIN + dir] = end
      }
      if (rst) {
        if (this.once(dir, H_RST, 'R') && seq !== this.last[LAST_RST + dir]) this.add(dir, 'R')
        this.last[LAST_RST + dir] = seq
      }
    } else if (len > 0) this.once(dir, H_DATA, 'D')
    else if (ack) this.once(dir, H_ACK, 'A')

    const peer = dir ^ 1
    // W: Zeek's update_window(): not with a RST, not after the peer closed, not after our own reset
    if (window === 0 && !rst && this.state[peer] !== EndpointState.Closed && this.state[dir] !== EndpointState.Reset) {
      this.scaled(dir, SCALED.zeroWindow)
    }
    // T: Zeek's update_last_seq(): payload that does not reach past the highest end seen
    const end = (seq + len + (syn || fin ? 1 : 0)) >>> 0
    const last = this.last[LAST_SEQ + dir]
    if (last < 0) this.last[LAST_SEQ + dir] = end
    else {
      const delta = (end - last) | 0
      if (delta > 0) this.last[LAST_SEQ + dir] = end
      else if (len > 0 && !syn && !rst) this.scaled(dir, SCALED.retransmission)
    }
    this.transition(dir, peer, syn, ack, fin, rst)
  }

  private transition(dir: number, peer: number, syn: boolean, ack: boolean, fin: boolean, rst: boolean): void {
    const s = this.state
    const me = s[dir]
    if (rst) {
      s[dir] = EndpointState.Reset
      return
    }
    if (syn) {
      if (me === EndpointState.Inactive || me === EndpointState.Partial) s[dir] = ack ? EndpointState.SynAckSent : EndpointState.SynSent
      if (fin) s[dir] = EndpointState.Closed
      return
    }
    if (fin) {
      if (me !== EndpointState.Reset) {
        // an endpoint closing right after its SYN, before any reply, stays "half open" (SH/SHR)
        s[dir] = EndpointState.Closed
      }
      if (ack && (s[peer] === EndpointState.SynSent || s[peer] === EndpointState.SynAckSent) && me !== EndpointState.Inactive) {
        s[peer] = EndpointState.Established
      }
      return
    }
    if (me === EndpointState.Inactive) s[dir] = EndpointState.Partial
    else if ((me === EndpointState.SynSent || me === EndpointState.SynAckSent) && ack) {
      s[dir] = EndpointState.Established
      if (s[peer] === EndpointState.SynSent || s[peer] === EndpointState.SynAckSent) s[peer] = EndpointState.Established
    }
    if (me === EndpointState.Partial && ack && (s[peer] === EndpointState.SynSent || s[peer] === EndpointState.SynAckSent)) {
      // the peer's handshake packet was answered without a SYN seen from us
      s[peer] = EndpointState.Established
    }
  }

  /** Zeek's conn_state(); `origBytes` / `respBytes` are the payload sizes. */
  connState(origBytes: number, respBytes: number): ConnState {
    const os = this.state[0]
    const rs = this.state[1]
    const oInactive = os === EndpointState.Inactive || os === EndpointState.Partial
    const rInactive = rs === EndpointState.Inactive || rs === EndpointState.Partial
    if (rs === EndpointState.Reset) {
      if (os === EndpointState.SynSent || os === EndpointState.SynAckSent ||
        (os === EndpointState.Reset && origBytes === 0 && respBytes === 0)) return 'REJ'
      return oInactive ? 'RSTRH' : 'RSTR'
    }
    if (os === EndpointState.Reset) {
      if (rInactive) return /^\^?S[^HAFGIQ]*R/.test(this.history) ? 'RSTOS0' : 'OTH'
      return 'RSTO'
    }
    if (rs === EndpointState.Closed && os === EndpointState.Closed) return 'SF'
    if (os === EndpointState.Closed) return rInactive ? 'SH' : 'S2'
    if (rs === EndpointState.Closed) return oInactive ? 'SHR' : 'S3'
    if (os === EndpointState.SynSent && rs === EndpointState.Inactive) return 'S0'
    if (os === EndpointState.Established && rs === EndpointState.Established) return 'S1'
    return 'OTH'
  }
}
