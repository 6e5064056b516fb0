// Byte-exact vectors for the rewrite engine (spec §4).
//
// Each vector builds an input frame with build.ts, rewrites it with the
// engine, and compares the result byte for byte with a SECOND frame built
// from scratch by build.ts with the translated field values written out by
// hand in the test. build.ts computes every checksum from scratch, never
// incrementally, so equality proves the engine's RFC 1624 updates equal a
// full recomputation for that packet. A few vectors also pin the literal
// output hex, with the IPv4 header checksum worked out by hand in comments.
// Finally every output frame goes through tshark (an independent decoder and
// checksum implementation): checksums must be Good and the fields it decodes
// must be the hand-computed values.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {buildTcpPacket, bytesToHex, hexToBytes, type TcpPacketSpec} from '../../analyzer/wire/build.js'
import {fold16, pseudoHeaderSumV4} from '../../analyzer/wire/checksum.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {Engine, TranslationState, type TranslationValues} from '../../replayer/engine/index.js'
import {buildFrame, linkTypeOf, writePcapFile, type LinkName} from '../bench/engine-fixtures.js'

const CONN4 = {cip: '198.51.100.7', cport: 40000, vip: '203.0.113.10', vport: 80, baddr: '10.0.0.2', bmac: '02:00:00:00:0b:0e', feMac: '02:00:00:00:0f:0e'}
const CONN6 = {cip: '2001:db8:c::7', cport: 40000, vip: '2001:db8:f::10', vport: 443, baddr: 'fd00::2', bmac: '02:00:00:00:0b:0e', feMac: '02:00:00:00:0f:0e'}
const ETH_FWD_IN = {src: '02:00:00:00:cc:01', dst: CONN4.feMac}
const ETH_FWD_OUT = {src: '02:00:00:00:cc:01', dst: CONN4.bmac}
const ETH_RET = {src: '02:00:00:00:0b:0e', dst: '02:00:00:00:cc:01'}

type Op = 'rewriteForward' | 'rewriteReturn'

interface Vector {
  name: string
  link: LinkName
  values: TranslationValues
  op: Op
  input: TcpPacketSpec
  /** The input with the §4 changes applied by hand. */
  expected: TcpPacketSpec
  /** What tshark must decode from the output (raw, absolute values). */
  tshark: Partial<Record<TsharkField, string>>
  hex?: string
}

// tshark columns we ask for, in order.
const TSHARK_FIELDS = [
  'ip.checksum.status', 'tcp.checksum.status', 'ip.dst', 'ipv6.dst', 'ip.src', 'ipv6.src', 'eth.dst',
  'tcp.seq_raw', 'tcp.ack_raw', 'tcp.window_size_value', 'tcp.options.timestamp.tsval', 'tcp.options.timestamp.tsecr',
  'tcp.options.sack_le', 'tcp.options.sack_re',
] as const
type TsharkField = (typeof TSHARK_FIELDS)[number]

const vectors: Vector[] = []
const fwd4 = (extra: Partial<TranslationValues> = {}): TranslationValues => ({...CONN4, ...extra})

// V1. Δ = biss − fiss = 0x10000200 − 0x10000000 = 0x200. No timestamps.
// ack 0xffffff80 + 0x200 wraps to 0x00000180; the four SACK blocks (the most
// that fit, no TS) each move by 0x200, two of them across 2^32 and one across
// 2^31; payload "abc" has odd length (the TCP checksum pads it with a zero).
//
// IPv4 header checksum by hand. Words without the checksum field:
//   4500 004f 1c46 4000 4006 | c633 6407 (src) | cb00 710a (dst 203.0.113.10)
//   sum = 0x347df -> 0x47df + 3 = 0x47e2 -> checksum ~0x47e2 = 0xb81d (input)
// dst becomes 0a00 0002 (10.0.0.2):
//   0x4500+0x004f+0x1c46+0x4000+0x4006+0xc633+0x6407 = 0x20bd5; + 0x0a00 + 0x0002 = 0x215d7
//   -> 0x15d7 + 2 = 0x15d9 -> checksum ~0x15d9 = 0xea26 (output, bytes 24-25 below)
vectors.push({
  name: 'forward, Ethernet IPv4: ack wraps 2^32, 4 SACK blocks, no timestamps, odd payload, dst MAC',
  link: 'ethernet',
  values: {...CONN4, fiss: 0x10000000, biss: 0x10000200},
  op: 'rewriteForward',
  input: {
    src: CONN4.cip, dst: CONN4.vip, srcPort: 40000, dstPort: 80, seq: 0x01020304, ack: 0xffffff80, flags: '.', window: 501, ipId: 0x1c46,
    options: {sack: [[0xffffff90, 0xffffffa0], [0xfffffff0, 0x10], [0x100, 0x180], [0x7ffffff0, 0x80000010]]},
    payload: 'abc', ethernet: ETH_FWD_IN,
  },
  expected: {
    src: CONN4.cip, dst: CONN4.baddr, srcPort: 40000, dstPort: 80, seq: 0x01020304, ack: 0x00000180, flags: '.', window: 501, ipId: 0x1c46,
    options: {sack: [[0x190, 0x1a0], [0x1f0, 0x210], [0x300, 0x380], [0x800001f0, 0x80000210]]},
    payload: 'abc', ethernet: ETH_FWD_OUT,
  },
  tshark: {
    'ip.checksum.status': '1', 'tcp.checksum.status': '1', 'ip.dst': '10.0.0.2', 'eth.dst': '02:00:00:00:0b:0e',
    'tcp.seq_raw': String(0x01020304), 'tcp.ack_raw': String(0x180),
    'tcp.options.sack_le': [0x190, 0x1f0, 0x300, 0x800001f0].join(','), 'tcp.options.sack_re': [0x1a0, 0x210, 0x380, 0x80000210].join(','),
  },
  hex: '020000000b0e 02000000cc01 0800' +
    '4500004f 1c464000 4006ea26 c6336407 0a000002' +
    '9c400050 01020304 00000180 e01001f5 6b2e0000' +
    '01010522 00000190000001a0 000001f000000210 0000030000000380 800001f080000210' +
    '616263',
})

// V2. Timestamps on: τ = bts − fts = 0x00000100 − 0xffffffc0 = 0x140 (mod 2^32).
// TSecr 0xfffffff0 + 0x140 wraps to 0x130; TSval (the client's clock) stays.
// Three SACK blocks (the most that fit beside the TS option), Δ = 0xfffffff0
// (biss < fiss: a "negative" offset), so ack 0x10 -> 0x0.
vectors.push({
  name: 'forward: TSecr wraps 2^32, 3 SACK blocks with TS, Δ negative (biss < fiss)',
  link: 'ethernet',
  values: fwd4({fiss: 0x20, biss: 0x10, fts: 0xffffffc0, bts: 0x100, wsF: 7, wsB: 7}),
  op: 'rewriteForward',
  input: {
    src: CONN4.cip, dst: CONN4.vip, srcPort: 40000, dstPort: 80, seq: 77, ack: 0x10, flags: 'P.', window: 1000, ipId: 7,
    options: {timestamp: {tsVal: 0xabcdef01, tsEcr: 0xfffffff0}, sack: [[5, 9], [0xffffffff, 0x2], [0x80000000, 0x80000001]]},
    payload: 'GET / HTTP/1.1\r\n\r\n', ethernet: ETH_FWD_IN,
  },
  expected: {
    src: CONN4.cip, dst: CONN4.baddr, srcPort: 40000, dstPort: 80, seq: 77, ack: 0x0, flags: 'P.', window: 1000, ipId: 7,
    options: {timestamp: {tsVal: 0xabcdef01, tsEcr: 0x130}, sack: [[0xfffffff5, 0xfffffff9], [0xffffffef, 0xfffffff2], [0x7ffffff0, 0x7ffffff1]]},
    payload: 'GET / HTTP/1.1\r\n\r\n', ethernet: ETH_FWD_OUT,
  },
  tshark: {
    'ip.checksum.status': '1', 'tcp.checksum.status': '1', 'tcp.ack_raw': '0', 'tcp.window_size_value': '1000',
    'tcp.options.timestamp.tsval': String(0xabcdef01), 'tcp.options.timestamp.tsecr': String(0x130),
    'tcp.options.sack_le': [0xfffffff5, 0xffffffef, 0x7ffffff0].join(','),
  },
})

// V3. The replayed SYN: no ACK flag, so the ack field (garbage 0x12345678 here)
// is not an ack and stays; TSecr is 0 ("no echo", RFC 7323 §3.2) and stays 0.
// Only the destination (and MAC) change.
vectors.push({
  name: 'forward: SYN without ACK keeps the ack field; TSecr 0 stays 0',
  link: 'ethernet',
  values: fwd4({delta: 0x55555555, tau: 0x1000}),
  op: 'rewriteForward',
  input: {
    src: CONN4.cip, dst: CONN4.vip, srcPort: 40000, dstPort: 80, seq: 0xdeadbeef, ack: 0x12345678, flags: 'S', window: 64240, ipId: 0,
    options: {mss: 1460, sackPermitted: true, timestamp: {tsVal: 12345, tsEcr: 0}, wscale: 7}, ethernet: ETH_FWD_IN,
  },
  expected: {
    src: CONN4.cip, dst: CONN4.baddr, srcPort: 40000, dstPort: 80, seq: 0xdeadbeef, ack: 0x12345678, flags: 'S', window: 64240, ipId: 0,
    options: {mss: 1460, sackPermitted: true, timestamp: {tsVal: 12345, tsEcr: 0}, wscale: 7}, ethernet: ETH_FWD_OUT,
  },
  tshark: {'tcp.checksum.status': '1', 'tcp.ack_raw': String(0x12345678), 'tcp.options.timestamp.tsecr': '0'},
})

// V4. Return with everything: seq 0x100 − Δ(0x200) wraps to 0xffffff00;
// TSval 0x10 − τ(0x20) wraps to 0xfffffff0; TSecr (the client's clock) stays;
// window scaled UP: wsB 7, wsF 5: 0x0123 << 7 >> 5 = 0x0123 * 4 = 0x048c.
vectors.push({
  name: 'return: seq and TSval wrap 2^32, window rescaled up ×4 (wsB 7 > wsF 5)',
  link: 'ethernet',
  values: fwd4({delta: 0x200, tau: 0x20, wsF: 5, wsB: 7}),
  op: 'rewriteReturn',
  input: {
    src: CONN4.baddr, dst: CONN4.cip, srcPort: 80, dstPort: 40000, seq: 0x100, ack: 0x0badcafe, flags: 'P.', window: 0x0123, ipId: 0x4242, ttl: 63, tos: 0x28,
    options: {timestamp: {tsVal: 0x10, tsEcr: 0x7777}}, payload: 'HTTP/1.1 200 OK\r\n', ethernet: ETH_RET,
  },
  expected: {
    src: CONN4.vip, dst: CONN4.cip, srcPort: 80, dstPort: 40000, seq: 0xffffff00, ack: 0x0badcafe, flags: 'P.', window: 0x048c, ipId: 0x4242, ttl: 63, tos: 0x28,
    options: {timestamp: {tsVal: 0xfffffff0, tsEcr: 0x7777}}, payload: 'HTTP/1.1 200 OK\r\n', ethernet: ETH_RET,
  },
  tshark: {
    'ip.checksum.status': '1', 'tcp.checksum.status': '1', 'ip.src': CONN4.vip, 'tcp.seq_raw': String(0xffffff00),
    'tcp.ack_raw': String(0x0badcafe), 'tcp.window_size_value': String(0x048c),
    'tcp.options.timestamp.tsval': String(0xfffffff0), 'tcp.options.timestamp.tsecr': String(0x7777),
  },
})

// V5. Window scaled DOWN, no timestamp option (TSval untouched though τ is set):
// wsB 2, wsF 7: 0x1234 << 2 = 0x48d0; >> 7 = 0x91 (145.6 truncated: the low
// bits are lost, so the client is offered slightly less, never more).
vectors.push({
  name: 'return: window rescaled down (wsB 2 < wsF 7), low bits dropped; no timestamp option',
  link: 'ethernet',
  values: fwd4({delta: 1, tau: 5, wsF: 7, wsB: 2}),
  op: 'rewriteReturn',
  input: {src: CONN4.baddr, dst: CONN4.cip, srcPort: 80, dstPort: 40000, seq: 1000, ack: 2000, flags: '.', window: 0x1234, ethernet: ETH_RET},
  expected: {src: CONN4.vip, dst: CONN4.cip, srcPort: 80, dstPort: 40000, seq: 999, ack: 2000, flags: '.', window: 0x91, ethernet: ETH_RET},
  tshark: {'tcp.checksum.status': '1', 'tcp.seq_raw': '999', 'tcp.window_size_value': String(0x91)},
})

// V6. Clamp: wsB 14, wsF 0: 0x0004 << 14 = 0x10000 does not fit: 0xffff.
vectors.push({
  name: 'return: rescaled window clamped to 0xFFFF (wsB 14, wsF 0)',
  link: 'ethernet',
  values: fwd4({delta: 0, wsF: 0, wsB: 14}),
  op: 'rewriteReturn',
  input: {src: CONN4.baddr, dst: CONN4.cip, srcPort: 80, dstPort: 40000, seq: 5, ack: 6, flags: '.', window: 4, ethernet: ETH_RET},
  expected: {src: CONN4.vip, dst: CONN4.cip, srcPort: 80, dstPort: 40000, seq: 5, ack: 6, flags: '.', window: 0xffff, ethernet: ETH_RET},
  tshark: {'tcp.checksum.status': '1', 'tcp.window_size_value': '65535'},
})

// V7. A SYN/ACK's window is never scaled (RFC 7323 §2.2), whatever wsB/wsF.
vectors.push({
  name: 'return: SYN/ACK window is not rescaled',
  link: 'ethernet',
  values: fwd4({delta: 0x1000, tau: 0, wsF: 2, wsB: 9}),
  op: 'rewriteReturn',
  input: {
    src: CONN4.baddr, dst: CONN4.cip, srcPort: 80, dstPort: 40000, seq: 0x1000, ack: 0xdeadbef0, flags: 'S.', window: 65160,
    options: {mss: 1460, sackPermitted: true, timestamp: {tsVal: 99, tsEcr: 12345}, wscale: 9}, ethernet: ETH_RET,
  },
  expected: {
    src: CONN4.vip, dst: CONN4.cip, srcPort: 80, dstPort: 40000, seq: 0, ack: 0xdeadbef0, flags: 'S.', window: 65160,
    options: {mss: 1460, sackPermitted: true, timestamp: {tsVal: 99, tsEcr: 12345}, wscale: 9}, ethernet: ETH_RET,
  },
  tshark: {'tcp.checksum.status': '1', 'tcp.window_size_value': '65160', 'tcp.seq_raw': '0'},
})

// V8/V9. IPv6 both ways (no header checksum; the TCP pseudo-header holds the 16-byte addresses).
vectors.push({
  name: 'forward, Ethernet IPv6: dst address, ack, SACK, TSecr',
  link: 'ethernet',
  values: {...CONN6, delta: 0x80000000, tau: 0xffffffff},
  op: 'rewriteForward',
  input: {
    src: CONN6.cip, dst: CONN6.vip, srcPort: 40000, dstPort: 443, seq: 1, ack: 0x7fffffff, flags: '.', window: 300, flowLabel: 0xabcde, tos: 0x10,
    options: {timestamp: {tsVal: 1, tsEcr: 0}, sack: [[0x80000000, 0x80000010]]}, payload: 'x', ethernet: ETH_FWD_IN,
  },
  expected: {
    src: CONN6.cip, dst: CONN6.baddr, srcPort: 40000, dstPort: 443, seq: 1, ack: 0xffffffff, flags: '.', window: 300, flowLabel: 0xabcde, tos: 0x10,
    options: {timestamp: {tsVal: 1, tsEcr: 0}, sack: [[0x0, 0x10]]}, payload: 'x', ethernet: ETH_FWD_OUT,
  },
  tshark: {'tcp.checksum.status': '1', 'ipv6.dst': CONN6.baddr, 'tcp.ack_raw': String(0xffffffff), 'tcp.options.sack_le': '0', 'tcp.options.timestamp.tsecr': '0'},
})
vectors.push({
  name: 'return, Ethernet IPv6: src address, seq, TSval (τ = 2^32 − 1), window equal shifts untouched',
  link: 'ethernet',
  values: {...CONN6, delta: 0x80000000, tau: 0xffffffff, wsF: 7, wsB: 7},
  op: 'rewriteReturn',
  input: {
    src: CONN6.baddr, dst: CONN6.cip, srcPort: 443, dstPort: 40000, seq: 0x7fffffff, ack: 2, flags: 'FP.', window: 502,
    options: {timestamp: {tsVal: 0xffffffff, tsEcr: 1}}, payload: 'bye', ethernet: ETH_RET,
  },
  expected: {
    src: CONN6.vip, dst: CONN6.cip, srcPort: 443, dstPort: 40000, seq: 0xffffffff, ack: 2, flags: 'FP.', window: 502,
    options: {timestamp: {tsVal: 0, tsEcr: 1}}, payload: 'bye', ethernet: ETH_RET,
  },
  tshark: {'tcp.checksum.status': '1', 'ipv6.src': CONN6.vip, 'tcp.seq_raw': String(0xffffffff), 'tcp.options.timestamp.tsval': '0'},
})

// V10. QinQ: 802.1ad outer tag + 802.1Q inner tag stay as they are; the IP
// header starts at 22 bytes (tcpedit once left bad checksums on such frames).
vectors.push({
  name: 'forward, QinQ (0x88a8 + 0x8100) Ethernet IPv4: tags kept, checksums right',
  link: 'ethernet',
  values: fwd4({delta: 0x1, tau: 0x1}),
  op: 'rewriteForward',
  input: {
    src: CONN4.cip, dst: CONN4.vip, srcPort: 40000, dstPort: 80, seq: 10, ack: 20, flags: 'P.', window: 30,
    options: {timestamp: {tsVal: 40, tsEcr: 50}}, payload: 'hello',
    ethernet: {...ETH_FWD_IN, vlans: [{vid: 100, tpid: 0x88a8, pcp: 3}, {vid: 200, dei: true}]},
  },
  expected: {
    src: CONN4.cip, dst: CONN4.baddr, srcPort: 40000, dstPort: 80, seq: 10, ack: 21, flags: 'P.', window: 30,
    options: {timestamp: {tsVal: 40, tsEcr: 51}}, payload: 'hello',
    ethernet: {...ETH_FWD_OUT, vlans: [{vid: 100, tpid: 0x88a8, pcp: 3}, {vid: 200, dei: true}]},
  },
  tshark: {'ip.checksum.status': '1', 'tcp.checksum.status': '1', 'tcp.ack_raw': '21', 'tcp.options.timestamp.tsecr': '51', 'ip.dst': CONN4.baddr},
})

// V11. Options laid out back to back (WS first, 3 bytes), so TSecr and the
// SACK edges sit at ODD offsets from the TCP header: their checksum words
// straddle the fields (RFC 1624 with byte-swapped deltas).
vectors.push({
  name: 'forward: odd-aligned TSecr and SACK edges (compact option layout)',
  link: 'ethernet',
  values: fwd4({delta: 0x01020304, tau: 0x0a0b0c0d}),
  op: 'rewriteForward',
  input: {
    src: CONN4.cip, dst: CONN4.vip, srcPort: 40000, dstPort: 80, seq: 1, ack: 0xfffffffe, flags: '.', window: 9, optionsLayout: 'compact',
    options: {wscale: 3, timestamp: {tsVal: 0x11111111, tsEcr: 0xf5f4f3f3}, sack: [[0xfefdfcfc, 0xfefdfd00], [3, 7]]},
    payload: 'odd', ethernet: ETH_FWD_IN,
  },
  expected: {
    src: CONN4.cip, dst: CONN4.baddr, srcPort: 40000, dstPort: 80, seq: 1, ack: 0x01020302, flags: '.', window: 9, optionsLayout: 'compact',
    options: {wscale: 3, timestamp: {tsVal: 0x11111111, tsEcr: 0x00000000}, sack: [[0x0, 0x4], [0x01020307, 0x0102030b]]},
    payload: 'odd', ethernet: ETH_FWD_OUT,
  },
  // 0xf5f4f3f3 + 0x0a0b0c0d = 0x1_0000_0000 -> 0: a forward TSecr may become 0 (see forward.ts on the inverse).
  tshark: {'tcp.checksum.status': '1', 'tcp.ack_raw': String(0x01020302), 'tcp.options.timestamp.tsecr': '0', 'tcp.options.sack_le': [0, 0x01020307].join(',')},
})

// V12-V15. Other link types: the link header is never touched.
const smallFwd = (dst: string): TcpPacketSpec => ({
  src: CONN4.cip, dst, srcPort: 40000, dstPort: 80, seq: 3, ack: dst === CONN4.vip ? 0xfffffffd : 0x2, flags: 'P.', window: 4,
  options: {timestamp: {tsVal: 5, tsEcr: dst === CONN4.vip ? 6 : 11}}, payload: 'sll',
})
for (const link of ['sll2', 'sll', 'null'] as const) {
  vectors.push({
    name: `forward, ${link.toUpperCase()} IPv4: link header kept (no Ethernet dst to rewrite)`,
    link,
    values: fwd4({delta: 5, tau: 5}),
    op: 'rewriteForward',
    input: smallFwd(CONN4.vip),
    expected: smallFwd(CONN4.baddr),
    tshark: {'ip.checksum.status': '1', 'tcp.checksum.status': '1', 'tcp.ack_raw': '2', 'tcp.options.timestamp.tsecr': '11'},
  })
}
vectors.push({
  name: 'return, raw IP (LINKTYPE_RAW) IPv6',
  link: 'raw',
  values: {...CONN6, delta: 10, tau: 10, wsF: 0, wsB: 1},
  op: 'rewriteReturn',
  input: {src: CONN6.baddr, dst: CONN6.cip, srcPort: 443, dstPort: 40000, seq: 5, ack: 1, flags: '.', window: 0x8000, options: {timestamp: {tsVal: 5, tsEcr: 5}}},
  expected: {src: CONN6.vip, dst: CONN6.cip, srcPort: 443, dstPort: 40000, seq: 0xfffffffb, ack: 1, flags: '.', window: 0xffff, options: {timestamp: {tsVal: 0xfffffffb, tsEcr: 5}}},
  tshark: {'tcp.checksum.status': '1', 'tcp.seq_raw': String(0xfffffffb), 'tcp.window_size_value': '65535'},
})
vectors.push({
  name: 'return, raw IP (LINKTYPE_RAW) IPv4 with IPv4 options',
  link: 'raw',
  values: fwd4({delta: 0xffffffff, wsF: 3, wsB: 1}),
  op: 'rewriteReturn',
  input: {src: CONN4.baddr, dst: CONN4.cip, srcPort: 80, dstPort: 40000, seq: 0xffffffff, ack: 1, flags: '.', window: 0x00ff, ipv4Options: Uint8Array.of(1, 1, 1, 0), payload: 'zz'},
  // seq − 0xffffffff = seq + 1 -> 0; window 0xff << 1 >> 3 = 0x3f
  expected: {src: CONN4.vip, dst: CONN4.cip, srcPort: 80, dstPort: 40000, seq: 0, ack: 1, flags: '.', window: 0x3f, ipv4Options: Uint8Array.of(1, 1, 1, 0), payload: 'zz'},
  tshark: {'ip.checksum.status': '1', 'tcp.checksum.status': '1', 'tcp.seq_raw': '0', 'tcp.window_size_value': '63'},
})

function runVector(v: Vector): Uint8Array {
  const eng = new Engine(TranslationState.fromValues(v.values), {verify: true})
  const frame = buildFrame(v.link, v.input)
  const r = eng[v.op](frame, linkTypeOf(v.link))
  assert.equal(r.status, 'ok', `${v.name}: ${r.detail}`)
  assert.equal(r.unverifiable, false)
  return frame
}

for (const v of vectors) {
  test(`vector: ${v.name}`, () => {
    const out = runVector(v)
    const expected = buildFrame(v.link, v.expected)
    assert.equal(bytesToHex(out), bytesToHex(expected))
    if (v.hex !== undefined) assert.equal(bytesToHex(out), bytesToHex(hexToBytes(v.hex)))
  })
}

test('vector: partial (offloaded) checksum stays the pseudo-header sum of the new addresses', () => {
  // Input: TCP field = fold(pseudo-header sum) as Linux leaves it before the NIC.
  const st = TranslationState.fromValues(fwd4({delta: 0x1234, tau: 99}))
  const eng = new Engine(st, {verify: true})
  const spec: TcpPacketSpec = {
    src: CONN4.cip, dst: CONN4.vip, srcPort: 40000, dstPort: 80, seq: 1, ack: 2, flags: 'P.', window: 3,
    options: {timestamp: {tsVal: 4, tsEcr: 5}}, payload: 'partial!', ethernet: ETH_FWD_IN, checksum: 'partial',
  }
  const frame = buildTcpPacket(spec)
  const r = eng.rewriteForward(frame, 1)
  assert.equal(r.status, 'ok')
  assert.equal(r.tcpChecksum, 'partial')
  // Expected: the partial field of the translated packet, from scratch.
  const expected = buildTcpPacket({...spec, dst: CONN4.baddr, ack: 2 + 0x1234, options: {timestamp: {tsVal: 4, tsEcr: 5 + 99}}, ethernet: ETH_FWD_OUT})
  assert.equal(bytesToHex(frame), bytesToHex(expected))
  // By hand: pseudo-header sum over 10.0.0.2, 198.51.100.7, proto 6, length 20+12+8 = 40.
  const ph = pseudoHeaderSumV4(frame, 14 + 12, 14 + 16, 6, 40)
  assert.equal(ph, 0xc633 + 0x6407 + 0x0a00 + 0x0002 + 6 + 40)
  assert.equal((frame[14 + 20 + 16] << 8) | frame[14 + 20 + 17], fold16(ph))
  const d = new PacketDecoder().decode(1, frame, frame.length, frame.length)
  assert.equal(d.l4ChecksumStatus, 'partial')
  assert.equal(d.ipChecksumStatus, 'good')
})

test('vector: truncated packet (capLen < origLen) is rewritten, marked unverifiable, and equals the prefix of the full rewrite', () => {
  const v = vectors[1]
  const full = buildFrame(v.link, v.input)
  const cut = full.slice(0, full.length - 10)
  const eng = new Engine(TranslationState.fromValues(v.values), {verify: true})
  const r = eng.rewriteForward(cut, 1, cut.length, full.length)
  assert.equal(r.status, 'ok')
  assert.equal(r.unverifiable, true)
  const expected = buildFrame(v.link, v.expected)
  assert.equal(bytesToHex(cut), bytesToHex(expected.subarray(0, cut.length)))
  // Cut inside the TCP options: nothing can be rewritten safely.
  const head = full.slice(0, 14 + 20 + 30)
  const before = bytesToHex(head)
  assert.equal(eng.rewriteForward(head, 1, head.length, full.length).status, 'truncated')
  assert.equal(bytesToHex(head), before)
})

// ---- tshark cross-check ------------------------------------------------------

const tsharkOk = spawnSync('tshark', ['--version'], {stdio: 'ignore'}).status === 0

test('tshark decodes every vector output with good checksums and the hand-computed fields', {skip: !tsharkOk && 'tshark not installed'}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'engine-vectors-'))
  try {
    const byLink = new Map<LinkName, Vector[]>()
    for (const v of vectors) byLink.set(v.link, [...(byLink.get(v.link) ?? []), v])
    for (const [link, vs] of byLink) {
      const file = join(dir, `${link}.pcap`)
      writePcapFile(file, linkTypeOf(link), vs.map(runVector))
      const args = ['-r', file, '-n', '-o', 'tcp.check_checksum:TRUE', '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.relative_sequence_numbers:FALSE',
        '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,']
      for (const f of TSHARK_FIELDS) args.push('-e', f)
      const p = spawnSync('tshark', args, {encoding: 'utf8'})
      assert.equal(p.status, 0, p.stderr)
      const lines = p.stdout.trimEnd().split('\n')
      assert.equal(lines.length, vs.length)
      lines.forEach((line, i) => {
        const cols = line.split('\t')
        const got = Object.fromEntries(TSHARK_FIELDS.map((f, k) => [f, cols[k] ?? '']))
        for (const [f, want] of Object.entries(vs[i].tshark)) assert.equal(got[f], want, `${vs[i].name}: ${f}`)
        // Whatever was not listed: the checksums must never be bad (0).
        assert.notEqual(got['tcp.checksum.status'], '0', vs[i].name)
        assert.notEqual(got['ip.checksum.status'], '0', vs[i].name)
      })
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})
