// Address syntax of the control channel (spec §3): "Addresses are strings
// (dotted IPv4, RFC 5952 IPv6)" and MACs are written `aa:bb:cc:dd:ee:ff`.
//
// We are strict on purpose: later stages (correlate, checks) compare these
// strings with addresses taken off the wire, and string comparison is only
// sound when every sender writes the one canonical form. So:
//  - IPv4: four decimal octets 0..255, no leading zeros (a leading zero is
//    octal to some parsers and decimal to others — ambiguous, so rejected).
//  - IPv6: must be exactly the RFC 5952 text (lower case, no leading zeros,
//    the longest run of two or more zero groups compressed with `::`, the
//    first such run on a tie, IPv4-mapped addresses as `::ffff:a.b.c.d`).
//    No zone ids (`%eth0`): they are not addresses on the wire.
//  - MAC: six lower-case hex pairs separated by colons, exactly as the spec
//    writes it.

const IPV4_RE = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const MAC_RE = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/
const HEXGROUP_RE = /^[0-9a-fA-F]{1,4}$/

export function isIPv4(s: string): boolean {
  return IPV4_RE.test(s)
}

export function isMac(s: string): boolean {
  return MAC_RE.test(s)
}

/**
 * Parses any IPv6 text form (with `::` and an optional dotted-IPv4 tail) into
 * eight 16-bit groups, or returns null when it is not IPv6 syntax at all.
 */
export function parseIPv6(s: string): number[] | null {
  if (s.length < 2 || s.length > 45 || s.includes('%')) return null
  const dbl = s.indexOf('::')
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return null
  const parseSide = (part: string, allowV4Tail: boolean): number[] | null => {
    if (part === '') return []
    const out: number[] = []
    const pieces = part.split(':')
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!
      if (allowV4Tail && i === pieces.length - 1 && p.includes('.')) {
        if (!isIPv4(p)) return null
        const o = p.split('.').map(Number)
        out.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!)
      } else {
        if (!HEXGROUP_RE.test(p)) return null
        out.push(parseInt(p, 16))
      }
    }
    return out
  }
  if (dbl === -1) {
    const g = parseSide(s, true)
    return g !== null && g.length === 8 ? g : null
  }
  const head = parseSide(s.slice(0, dbl), false)
  const tail = parseSide(s.slice(dbl + 2), true)
  if (head === null || tail === null) return null
  const missing = 8 - head.length - tail.length
  // `::` stands for at least one group (RFC 4291 §2.2).
  if (missing < 1) return null
  return [...head, ...new Array<number>(missing).fill(0), ...tail]
}

/** RFC 5952 text of eight 16-bit groups. */
export function formatIPv6(g: readonly number[]): string {
  // IPv4-mapped (::ffff:0:0/96): RFC 5952 §5 recommends mixed notation, and it
  // is what Node prints for such peers, so it is the canonical form here.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`
  }
  // Longest run of >= 2 zero groups; the first one wins a tie (RFC 5952 §4.2.3).
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = (a: number, b: number) => g.slice(a, b).map((x) => x.toString(16)).join(':')
  if (bestStart === -1) return hex(0, 8)
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`
}

/**
 * Checks an address string. Returns null when it is good, else a short reason
 * (used in validation details).
 */
export function checkAddress(s: string): string | null {
  if (s.includes(':')) {
    const g = parseIPv6(s)
    if (g === null) return 'not an IPv6 address'
    const canon = formatIPv6(g)
    return canon === s ? null : `IPv6 address not in RFC 5952 form (expected ${canon})`
  }
  return isIPv4(s) ? null : 'not a dotted IPv4 address'
}
