// Named anomalies (Zeek calls them "weirds"). Malformed input never throws out
// of the decoder; it records one of these names and stops at the damaged
// layer. The names are stable: reports and tests match on them.

export const ANOMALIES = [
  'unsupported-link-type', // link type not decoded (e.g. ETHERNET_MPACKET 274)
  'truncated-link-header', // SLL/SLL2/NULL/LOOP header cut short
  'truncated-ethernet', // fewer than 14 bytes of Ethernet header
  'truncated-vlan', // a VLAN tag (TPID seen) cut short
  'unknown-null-family', // NULL/LOOP address family not IPv4/IPv6
  'truncated-ip-header', // fewer bytes than the (minimal or IHL-declared) IP header
  'bad-ip-version', // version nibble does not match the EtherType / link type
  'bad-ip-header-length', // IPv4 IHL < 5
  'bad-ip-total-length', // IPv4 total length < header length
  'ip-total-length-zero', // IPv4 total length 0 (TSO capture); captured length used
  'ip-total-length-exceeds-capture', // IP length runs past the captured bytes although caplen == origlen
  'snaplen-truncated', // caplen < origlen and the IP datagram is cut by it
  'ip-fragment', // IPv4 MF or offset != 0, or a non-atomic IPv6 fragment
  'truncated-ipv6-ext-header', // an IPv6 extension header cut short by the capture
  'bad-ipv6-ext-header-length', // an IPv6 extension header runs past the payload length
  'ipv6-jumbogram', // payload length 0 with a hop-by-hop header; captured length used
  'truncated-tcp-header', // fewer than 20 bytes, or fewer than the data offset says
  'bad-tcp-data-offset', // data offset < 5, or past the end of the segment
  'bad-tcp-option-length', // an option whose length byte is impossible or runs past the header
  'truncated-udp-header', // fewer than 8 bytes of UDP header
  'bad-udp-length', // UDP length < 8 or larger than the IP payload
  'truncated-icmp-header', // fewer than 4 bytes of ICMP/ICMPv6 header
] as const

export type Anomaly = (typeof ANOMALIES)[number]

/** Thrown only by the views' checked() constructors, never by PacketDecoder. */
export class WireError extends Error {
  constructor(readonly anomaly: Anomaly, message?: string) {
    super(message ?? anomaly)
    this.name = 'WireError'
  }
}
