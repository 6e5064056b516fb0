// Link-layer header types as they appear in pcap/pcapng headers
// (https://www.tcpdump.org/linktypes.html). The LINKTYPE_ numbers are what a
// file carries; a few DLT_ numbers leak into files written on some systems
// (12 and 14 are raw IP on different BSDs), so they are decoded as raw IP too.

export const LINKTYPE = {
  NULL: 0, // BSD loopback: 4-byte address family in the capturing host's byte order
  ETHERNET: 1,
  DLT_RAW_12: 12, // raw IP (DLT_RAW on most BSDs / old libpcap)
  DLT_RAW_14: 14, // raw IP (DLT_RAW on OpenBSD)
  RAW: 101, // raw IP, version from the first nibble
  LOOP: 108, // OpenBSD loopback: like NULL but the family is in network byte order
  LINUX_SLL: 113,
  IEEE802_11_RADIOTAP: 127,
  IPV4: 228,
  IPV6: 229,
  ETHERNET_MPACKET: 274, // 802.3br mPackets: not decoded
  LINUX_SLL2: 276,
} as const

const NAMES: Record<number, string> = {
  0: 'NULL',
  1: 'ETHERNET',
  12: 'RAW',
  14: 'RAW',
  101: 'RAW',
  108: 'LOOP',
  113: 'LINUX_SLL',
  127: 'IEEE802_11_RADIOTAP',
  228: 'IPV4',
  229: 'IPV6',
  274: 'ETHERNET_MPACKET',
  276: 'LINUX_SLL2',
}

/** Display name of a link type ('ETHERNET', 'LINUX_SLL2', …), or 'LINKTYPE_<n>' when unknown. */
export function linkTypeName(linkType: number): string {
  return NAMES[linkType] ?? `LINKTYPE_${linkType}`
}

/** True when PacketDecoder understands this link type. */
export function isDecodableLinkType(linkType: number): boolean {
  switch (linkType) {
    case 0: case 1: case 12: case 14: case 101: case 108: case 113: case 228: case 229: case 276:
      return true
    default:
      return false
  }
}
