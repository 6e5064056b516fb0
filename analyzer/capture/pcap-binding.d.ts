// Types for the parts of `pcap` (node_pcap 3.1.0) that live.ts uses. The
// package ships a pcap.d.ts, but it does not describe the session internals
// (`session.session`, `buf`, `header`) that we need to detect read errors and
// to copy packets, so live.ts loads the module through createRequire and casts
// it to these interfaces instead of importing it.
//
// Measured behaviour of the binding (pcap.js + pcap_session.cc):
// - createSession() opens, activates, compiles the filter and starts polling
//   synchronously; it throws a plain Error with libpcap's text on failure.
// - `buf` (snap_length bytes) and `header` (16 bytes) are allocated once per
//   session and overwritten for every packet: copy what you keep.
// - header = u32 tv_sec, u32 tv_usec, u32 caplen, u32 len, in host byte order.
// - close() only calls pcap_breakloop(); the handle (and the libuv poll that
//   keeps the event loop alive) is released the next time a packet arrives.
// - inject() throws "Pcap inject failed." without libpcap's error text.
// - link_type is a string: LINKTYPE_NULL/ETHERNET/IEEE802_11_RADIO/RAW/
//   LINUX_SLL, or "Unknown linktype <DLT>".

export interface PcapRawStats {
  ps_recv: number
  ps_drop: number
  ps_ifdrop: number
}

export interface PcapNativeSession {
  dispatch(buf: Buffer, header: Buffer): number
  read_callback: () => void
  close(): void
  stats(): PcapRawStats
  inject(buf: Buffer): void
}

export interface PcapPacketWithHeader {
  buf: Buffer
  header: Buffer
  link_type: string
}

export interface PcapSession {
  link_type: string
  device_name: string
  opened: boolean
  buf: Buffer
  header: Buffer
  session: PcapNativeSession
  on(event: 'packet', cb: (p: PcapPacketWithHeader) => void): this
  removeAllListeners(): this
  close(): void
  stats(): PcapRawStats
  inject(buf: Buffer): void
}

export interface PcapCreateOptions {
  filter?: string
  buffer_size?: number
  buffer_timeout?: number
  monitor?: boolean
  snap_length?: number
  promiscuous?: boolean
}

export interface PcapAddress {
  addr?: string
  netmask?: string
  broadaddr?: string
  dstaddr?: string
}

export interface PcapDevice {
  name: string
  description?: string
  addresses: Array<PcapAddress | null>
  flags?: string
}

export interface PcapModule {
  lib_version: string
  warningHandler: (message: string) => void
  findalldevs(): PcapDevice[]
  createSession(device: string, options?: PcapCreateOptions): PcapSession
  createOfflineSession(path: string, options?: {filter?: string}): PcapSession
}
