// Address formatting and parsing. Formatting is only done on demand (the
// decoder keeps offsets, not strings), so these may allocate.

const HEX = '0123456789abcdef'

/** Dotted-quad IPv4 address from 4 bytes at off. */
export function formatIpv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`
}

/**
 * IPv6 address from 16 bytes at off in RFC 5952 form: lowercase, no leading
 * zeros, the longest run of two or more zero groups (the first on a tie)
 * shortened to "::", and IPv4-mapped addresses as ::ffff:a.b.c.d (§5).
 */
export function formatIpv6(b: Uint8Array, off: number): string {
  let bestStart = -1, bestLen = 0, curStart = -1, curLen = 0
  for (let g = 0; g < 8; g++) {
    const z = b[off + 2 * g] === 0 && b[off + 2 * g + 1] === 0
    if (z) {
      if (curStart < 0) { curStart = g; curLen = 0 }
      curLen++
      if (curLen > bestLen) { bestLen = curLen; bestStart = curStart }
    } else {
      curStart = -1
    }
  }
  if (bestLen < 2) bestStart = -1
  // ::ffff:a.b.c.d
  if (bestStart === 0 && bestLen === 5 && b[off + 10] === 0xff && b[off + 11] === 0xff) {
    return '::ffff:' + formatIpv4(b, off + 12)
  }
  let s = ''
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      s += '::'
      g += bestLen - 1
      continue
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':'
    s += ((b[off + 2 * g] << 8) | b[off + 2 * g + 1]).toString(16)
  }
  return s
}

/** aa:bb:cc:dd:ee:ff from 6 bytes at off (or len bytes, for SLL addresses). */
export function formatMac(b: Uint8Array, off: number, len = 6): string {
  let s = ''
  for (let i = 0; i < len; i++) {
    if (i > 0) s += ':'
    s += HEX[b[off + i] >> 4] + HEX[b[off + i] & 15]
  }
  return s
}

/** Parses a dotted-quad IPv4 address to a uint32; throws on bad input. */
export function parseIpv4(s: string): number {
  // A character loop rather than split and a regex: check parses the handoffs' addresses per handoff judged.
  let v = 0
  let part = 0
  let digits = 0
  let parts = 0
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x2e
    if (c === 0x2e) { // '.', or the end
      if (digits === 0 || part > 255 || ++parts > 4) throw new Error(`bad IPv4 address: ${s}`)
      v = v * 256 + part
      part = 0
      digits = 0
    } else if (c >= 0x30 && c <= 0x39 && digits < 3) {
      part = part * 10 + (c - 0x30)
      digits++
    } else throw new Error(`bad IPv4 address: ${s}`)
  }
  if (parts !== 4) throw new Error(`bad IPv4 address: ${s}`)
  return v >>> 0
}

/** Parses an IPv4 address to 4 bytes. */
export function parseIpv4Bytes(s: string): Uint8Array {
  const v = parseIpv4(s)
  return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff)
}

/** Parses any textual IPv6 address (with "::" and a trailing dotted IPv4) to 16 bytes; throws on bad input. */
export function parseIpv6(s: string): Uint8Array {
  const out = new Uint8Array(16)
  let text = s
  const groups: number[] = []
  const tail: number[] = []
  const dot = text.lastIndexOf('.')
  let v4: Uint8Array | undefined
  if (dot >= 0) {
    const c = text.lastIndexOf(':')
    v4 = parseIpv4Bytes(text.slice(c + 1))
    text = text.slice(0, c + 1) + '0:0'
  }
  const dbl = text.indexOf('::')
  if (dbl !== text.lastIndexOf('::')) throw new Error(`bad IPv6 address: ${s}`)
  const parse = (part: string, into: number[]) => {
    if (part === '') return
    for (const g of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new Error(`bad IPv6 address: ${s}`)
      into.push(parseInt(g, 16))
    }
  }
  if (dbl >= 0) {
    parse(text.slice(0, dbl), groups)
    parse(text.slice(dbl + 2), tail)
    if (groups.length + tail.length > 7) throw new Error(`bad IPv6 address: ${s}`)
  } else {
    parse(text, groups)
    if (groups.length !== 8) throw new Error(`bad IPv6 address: ${s}`)
  }
  for (let i = 0; i < groups.length; i++) { out[2 * i] = groups[i] >> 8; out[2 * i + 1] = groups[i] & 0xff }
  for (let i = 0; i < tail.length; i++) {
    const g = 8 - tail.length + i
    out[2 * g] = tail[i] >> 8; out[2 * g + 1] = tail[i] & 0xff
  }
  if (v4) out.set(v4, 12)
  return out
}

/**
 * Parses aa:bb:cc:dd:ee:ff (each separator ':' or '-', hex digits of either case) to 6 bytes, in place: it runs for
 * every handoff (its bmac).
 */
export function parseMac(s: string): Uint8Array {
  const out = new Uint8Array(6)
  for (let i = 0; s.length === 17 && i < 6; i++) {
    const at = 3 * i
    const hi = hexDigit(s.charCodeAt(at))
    const lo = hexDigit(s.charCodeAt(at + 1))
    if (hi < 0 || lo < 0 || (i < 5 && s[at + 2] !== ':' && s[at + 2] !== '-')) break
    out[i] = hi * 16 + lo
    if (i === 5) return out
  }
  throw new Error(`bad MAC address: ${s}`)
}

/** The value of a hex digit's character code, -1 for another character. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  return -1
}

/** Reads a big-endian uint32 (used for IPv4 addresses and TCP fields). */
export function readU32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24
  b[off + 1] = (v >>> 16) & 0xff
  b[off + 2] = (v >>> 8) & 0xff
  b[off + 3] = v & 0xff
}

export function readU16(b: Uint8Array, off: number): number {
  return (b[off] << 8) | b[off + 1]
}

export function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff
  b[off + 1] = v & 0xff
}
