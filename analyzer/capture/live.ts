// Live packet source over libpcap (the `pcap` package, node_pcap 3.1.0).
//
// A small typed wrapper that hides the binding's traps (see pcap-binding.d.ts
// and ../shared/design/notes.md):
// - the binding is loaded lazily, so a missing or broken libpcap is a clear
//   error of the command that needs it, not a crash of the whole CLI;
// - packet bytes live in one buffer the binding overwrites for every packet:
//   by default each packet is handed over as its own copy;
// - errors name the interface / filter / frame and say what to do;
// - a read error (interface removed or down) becomes an 'error' event instead
//   of silence;
// - close() is idempotent and keeps the last statistics readable.
//
// Read and write capture FILES with our own code (pcapng-writer.ts etc.), not
// with this binding.
import {EventEmitter} from 'node:events'
import {createRequire} from 'node:module'
import {endianness} from 'node:os'
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {PcapDevice, PcapModule, PcapSession} from './pcap-binding.js'
import {makeTempDir} from '../temp-dir.js'

export const DEFAULT_SNAPLEN = 262144

export type LiveErrorCode =
  | 'binding' // libpcap binding could not be loaded
  | 'no-such-device'
  | 'permission'
  | 'bad-filter'
  | 'bad-option'
  | 'open' // any other failure to open the interface
  | 'read' // reading from an open interface failed (e.g. interface removed)
  | 'inject'
  | 'closed'
  | 'output' // the capture file could not be written

export class LiveCaptureError extends Error {
  code: LiveErrorCode
  /** Interface concerned, when there is one. */
  iface?: string
  /** libpcap's own text, when there is one. */
  libpcapMessage?: string

  constructor(code: LiveErrorCode, message: string, extra: {iface?: string; libpcapMessage?: string; cause?: unknown} = {}) {
    super(message, extra.cause === undefined ? undefined : {cause: extra.cause})
    this.name = 'LiveCaptureError'
    this.code = code
    this.iface = extra.iface
    this.libpcapMessage = extra.libpcapMessage
  }
}

// ---------------------------------------------------------------------------
// Loading the binding

let cachedBinding: PcapModule | undefined

/**
 * Loads the `pcap` module (lazily, once). `moduleId` exists for tests, which
 * use it to check the error for a missing binding.
 */
export function loadPcapBinding(moduleId = 'pcap'): PcapModule {
  if (moduleId === 'pcap' && cachedBinding) return cachedBinding
  let mod: PcapModule
  try {
    const require = createRequire(import.meta.url)
    mod = require(moduleId) as PcapModule
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e)
    throw new LiveCaptureError(
      'binding',
      `libpcap binding could not be loaded: ${why} — install libpcap-dev and run npm rebuild pcap`,
      {cause: e},
    )
  }
  if (moduleId === 'pcap') cachedBinding = mod
  return mod
}

/** libpcap's version string, e.g. "libpcap version 1.10.3 (with TPACKET_V3)". */
export function libpcapVersion(): string {
  return loadPcapBinding().lib_version
}

// ---------------------------------------------------------------------------
// Interfaces

export interface InterfaceInfo {
  name: string
  description?: string
  addresses: string[]
  flags?: string
}

/** The interfaces libpcap can see (in this process's network namespace). */
export function listInterfaces(): InterfaceInfo[] {
  const pcap = loadPcapBinding()
  const devs: PcapDevice[] = pcap.findalldevs()
  return devs.map((d) => ({
    name: d.name,
    description: d.description,
    addresses: (d.addresses ?? []).filter((a) => a && a.addr).map((a) => a!.addr as string),
    flags: d.flags,
  }))
}

function availableNames(): string {
  try {
    const names = listInterfaces().map((i) => i.name)
    return names.length > 0 ? names.join(', ') : '(none)'
  } catch {
    return '(could not list them)'
  }
}

// ---------------------------------------------------------------------------
// Link types

/** Numeric LINKTYPE_* value for the binding's link_type string. */
export function linkTypeFromBinding(s: string): number {
  switch (s) {
    case 'LINKTYPE_NULL':
      return 0
    case 'LINKTYPE_ETHERNET':
      return 1
    case 'LINKTYPE_RAW':
      return 101
    case 'LINKTYPE_IEEE802_11_RADIO':
      return 127
    case 'LINKTYPE_LINUX_SLL':
      return 113
  }
  const m = /^Unknown linktype (-?\d+)$/.exec(s)
  if (m) {
    // The binding reports the DLT value; the few DLTs whose LINKTYPE differs:
    const dlt = Number(m[1])
    const differing: Record<number, number> = {11: 100, 12: 101, 14: 101, 15: 102, 16: 103, 17: 117, 18: 119, 19: 104}
    return differing[dlt] ?? dlt
  }
  throw new LiveCaptureError('open', `unexpected link type from the libpcap binding: ${JSON.stringify(s)}`)
}

// ---------------------------------------------------------------------------
// The live source

export interface LiveOptions {
  interface: string
  /** BPF filter (tcpdump syntax). */
  filter?: string
  /** Bytes kept of each packet. Default 262144. Longer packets are truncated (origLen tells). */
  snapLen?: number
  /** Default true. */
  promiscuous?: boolean
  /** Deliver each packet as soon as it arrives (libpcap immediate mode). Default true. */
  immediate?: boolean
  /** Kernel ring buffer in bytes. Default 16 MiB. */
  bufferSize?: number
  /**
   * Default true: `data` is the packet's own copy. false: `data` is a VIEW
   * into the binding's buffer, valid only until the callback returns (call
   * `copy()` to keep it). For hot loops that parse and drop.
   */
  copy?: boolean
}

export interface LivePacket {
  /** Interface name. */
  iface: string
  tsSec: number
  /** Nanoseconds within the second (libpcap gives microseconds: µs × 1000). */
  tsNsec: number
  /** Captured bytes (a copy, unless opened with copy: false). */
  data: Uint8Array
  /** Length on the wire (≥ data.length; larger when truncated by snapLen). */
  origLen: number
  /** A fresh copy of the bytes (always safe to keep). */
  copy(): Uint8Array
}

export interface LiveStats {
  /** Packets received by the filter (libpcap ps_recv). */
  received: number
  /** Dropped by the kernel: the ring buffer was full (ps_drop). */
  dropped: number
  /** Dropped by the interface / driver (ps_ifdrop). */
  ifDropped: number
}

interface LiveEvents {
  packet: [LivePacket]
  error: [LiveCaptureError]
}

const littleEndian = endianness() === 'LE'

export class LiveSource extends EventEmitter<LiveEvents> {
  readonly iface: string
  /** Numeric LINKTYPE_* (1 = Ethernet, 113 = Linux cooked, …). */
  readonly linkType: number
  readonly snapLen: number
  readonly filter: string
  /** Warnings libpcap gave while opening (e.g. "no IPv4 address assigned"). */
  readonly openWarnings: string[]
  private session: PcapSession | null
  private readonly binding: PcapSession
  private lastStats: LiveStats = {received: 0, dropped: 0, ifDropped: 0}
  private closedFlag = false
  private readonly copyData: boolean

  /** Use openLive(). */
  constructor(session: PcapSession, opts: Required<Pick<LiveOptions, 'interface' | 'snapLen' | 'copy'>> & {filter: string}, warnings: string[]) {
    super()
    this.session = session
    this.binding = session
    this.iface = opts.interface
    this.snapLen = opts.snapLen
    this.filter = opts.filter
    this.copyData = opts.copy
    this.openWarnings = warnings
    this.linkType = linkTypeFromBinding(session.link_type)

    const header = session.header
    const readU32 = littleEndian ? (o: number) => header.readUInt32LE(o) : (o: number) => header.readUInt32BE(o)
    session.on('packet', (p) => {
      if (this.closedFlag) return
      const tsSec = readU32(0)
      const tsUsec = readU32(4)
      const capLen = Math.min(readU32(8), p.buf.length)
      const origLen = readU32(12)
      const view = new Uint8Array(p.buf.buffer, p.buf.byteOffset, capLen)
      const data = this.copyData ? view.slice() : view
      const pkt: LivePacket = {
        iface: this.iface,
        tsSec,
        tsNsec: tsUsec * 1000,
        data,
        origLen,
        copy: () => data.slice(),
      }
      // An exception thrown here would unwind through libpcap and the binding
      // turns it into a fatal error: hand it over asynchronously instead.
      try {
        this.emit('packet', pkt)
      } catch (e) {
        process.nextTick(() => {
          throw e
        })
      }
    })

    // Replace the binding's read callback to notice read errors (dispatch
    // returns -1 when the interface goes away); the binding ignores them.
    const native = session.session
    native.read_callback = () => {
      if (this.session === null) {
        // closed: let the binding finish closing (dispatch returns -2).
        try {
          native.dispatch(session.buf, session.header)
        } catch {
          /* already closed */
        }
        return
      }
      let n: number
      try {
        n = native.dispatch(session.buf, session.header)
      } catch (e) {
        this.fail(new LiveCaptureError('read', `capture on "${this.iface}" failed: ${(e as Error).message}`, {iface: this.iface, cause: e}))
        return
      }
      if (n === -1 && !this.closedFlag) {
        this.fail(
          new LiveCaptureError(
            'read',
            `capture on "${this.iface}" failed: libpcap could not read from the interface (was it removed or taken down?)`,
            {iface: this.iface},
          ),
        )
      }
    }
  }

  private fail(err: LiveCaptureError): void {
    if (this.listenerCount('error') > 0) this.emit('error', err)
    else
      process.nextTick(() => {
        throw err
      })
  }

  get closed(): boolean {
    return this.closedFlag
  }

  /**
   * True once libpcap's handle is really closed. After close() that happens
   * only when one more packet reaches the handle (a binding limitation);
   * until then its poll keeps the event loop alive.
   */
  get released(): boolean {
    try {
      this.binding.session.stats()
      return false
    } catch {
      return true
    }
  }

  /** Cumulative statistics since open. After close(): the last ones read before closing. */
  stats(): LiveStats {
    if (this.closedFlag || this.session === null) return {...this.lastStats}
    try {
      const s = this.session.stats()
      this.lastStats = {received: s.ps_recv >>> 0, dropped: s.ps_drop >>> 0, ifDropped: s.ps_ifdrop >>> 0}
    } catch {
      // handle already released by the binding: keep the last values
    }
    return {...this.lastStats}
  }

  /**
   * Sends one complete link-layer frame out of the interface. Throws a
   * LiveCaptureError naming the interface and frame size (the binding gives
   * no reason of its own; likely causes are added when they can be seen).
   */
  inject(frame: Uint8Array): void {
    if (this.closedFlag || this.session === null) {
      throw new LiveCaptureError('closed', `cannot inject a ${frame.length}-byte frame on "${this.iface}": the live source is closed`, {
        iface: this.iface,
      })
    }
    const buf = Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength)
    try {
      this.session.inject(buf)
    } catch (e) {
      const libMsg = (e as Error).message
      throw new LiveCaptureError(
        'inject',
        `inject on "${this.iface}" failed for a ${frame.length}-byte frame${injectHint(this.iface, frame.length, this.linkType)}` +
          ` (libpcap binding: "${libMsg}")`,
        {iface: this.iface, libpcapMessage: libMsg, cause: e},
      )
    }
  }

  /**
   * Stops delivering packets and closes the session. Idempotent.
   *
   * Binding caveat: node_pcap's close() only breaks libpcap's loop; the handle
   * and the libuv poll that keeps the event loop alive are released when the
   * next packet arrives on the interface. On an idle interface the process
   * will not exit by itself: a command that is done must end explicitly.
   */
  close(): void {
    if (this.closedFlag) return
    this.stats() // keep the final counters readable
    this.closedFlag = true
    const s = this.session
    this.session = null
    if (s) {
      try {
        s.close()
      } catch {
        /* already closed */
      }
    }
  }
}

function readSys(iface: string, what: string): string | undefined {
  if (iface.includes('/') || iface.startsWith('.')) return undefined
  try {
    return readFileSync(`/sys/class/net/${iface}/${what}`, 'utf8').trim()
  } catch {
    return undefined
  }
}

function injectHint(iface: string, len: number, linkType: number): string {
  if (len === 0) return ': the frame is empty'
  const mtu = Number(readSys(iface, 'mtu'))
  const hdr = linkType === 1 ? 18 : 0 // Ethernet header + one VLAN tag
  if (Number.isFinite(mtu) && mtu > 0 && len > mtu + hdr) return `: larger than the interface MTU (${mtu}) allows`
  if (linkType === 1 && len < 14) return ': shorter than an Ethernet header'
  const oper = readSys(iface, 'operstate')
  if (oper === 'down') return ': the interface is down'
  return ''
}

// ---------------------------------------------------------------------------
// Opening

/** Writes a header-only pcap file of the given link type (for filter checks). */
function emptyPcap(linkType: number): Buffer {
  const b = Buffer.alloc(24)
  b.writeUInt32LE(0xa1b2c3d4, 0)
  b.writeUInt16LE(2, 4)
  b.writeUInt16LE(4, 6)
  b.writeUInt32LE(DEFAULT_SNAPLEN, 16)
  b.writeUInt32LE(linkType, 20)
  return b
}

/**
 * Compiles a BPF filter for a link type without opening an interface.
 * Returns libpcap's error text, or undefined when it compiles. Filters with
 * inbound/outbound are checked as for a Linux cooked capture (libpcap cannot
 * compile them offline for Ethernet).
 */
export function checkFilter(filter: string, linkType = 1): string | undefined {
  const pcap = loadPcapBinding()
  const dir = makeTempDir('handoff-bpf-')
  try {
    const file = join(dir, 'empty.pcap')
    writeFileSync(file, emptyPcap(linkType))
    try {
      const s = pcap.createOfflineSession(file, {filter})
      s.removeAllListeners()
      return undefined
    } catch (e) {
      const msg = (e as Error).message
      // inbound/outbound compile offline only for Linux cooked captures:
      // check such filters as one (libpcap reports them before any syntax
      // error further on).
      if (/savefile/i.test(msg)) return linkType === 113 ? undefined : checkFilter(filter, 113)
      return msg
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

function validateOptions(opts: LiveOptions): void {
  if (typeof opts.interface !== 'string' || opts.interface === '') {
    throw new LiveCaptureError('bad-option', 'no interface given')
  }
  const snap = opts.snapLen ?? DEFAULT_SNAPLEN
  if (!Number.isInteger(snap) || snap < 1 || snap > 262144) {
    throw new LiveCaptureError('bad-option', `snap length must be an integer from 1 to 262144 (got ${opts.snapLen})`)
  }
  if (opts.bufferSize !== undefined && (!Number.isInteger(opts.bufferSize) || opts.bufferSize < 65536 || opts.bufferSize > 2 ** 31 - 1)) {
    throw new LiveCaptureError('bad-option', `buffer size must be an integer from 65536 to 2147483647 bytes (got ${opts.bufferSize})`)
  }
}

function interfaceKnown(iface: string): boolean | undefined {
  try {
    return listInterfaces().some((i) => i.name === iface)
  } catch {
    return undefined
  }
}

function filterProblem(filter: string | undefined): string | undefined {
  if (!filter) return undefined
  try {
    return checkFilter(filter)
  } catch {
    return undefined
  }
}

/**
 * Turns the binding's bare Error into one that says what is wrong. The
 * binding opens the device, then compiles the filter, and throws the same
 * kind of Error for both; without privileges it fails before either is
 * looked at. So the device list and an offline compile of the filter (both
 * need no privileges) decide, in the order a user would fix things:
 * missing interface, bad filter, missing privileges.
 */
function classifyOpenError(opts: LiveOptions, message: string, cause: unknown): LiveCaptureError {
  const iface = opts.interface
  const extra = {iface, libpcapMessage: message, cause}
  const noDevice = /no such device|doesn't exist|does not exist/i.test(message)
  const noPerm = /permission|not permitted|EPERM|EACCES/i.test(message)
  if (noDevice || (noPerm && interfaceKnown(iface) === false)) {
    return new LiveCaptureError('no-such-device', `interface "${iface}" does not exist (available: ${availableNames()})`, extra)
  }
  const badFilter = filterProblem(opts.filter)
  if (badFilter !== undefined) {
    return new LiveCaptureError('bad-filter', `bad BPF filter ${JSON.stringify(opts.filter)}: ${badFilter}`, {...extra, libpcapMessage: badFilter})
  }
  if (noPerm) {
    return new LiveCaptureError(
      'permission',
      `no permission to capture on "${iface}" (libpcap: ${message}): run as root, or give node CAP_NET_RAW and CAP_NET_ADMIN ` +
        `(e.g. sudo setcap cap_net_raw,cap_net_admin=eip "${process.execPath}")`,
      extra,
    )
  }
  const with_ = opts.filter ? ` with filter ${JSON.stringify(opts.filter)}` : ''
  return new LiveCaptureError('open', `cannot capture on "${iface}"${with_}: ${message}`, extra)
}

/**
 * Opens a live capture on one interface. Packets start arriving (as 'packet'
 * events) on the next turn of the event loop, so attach listeners right away.
 * Throws LiveCaptureError (code 'binding', 'no-such-device', 'permission',
 * 'bad-filter', 'bad-option' or 'open').
 */
export function openLive(opts: LiveOptions): LiveSource {
  validateOptions(opts)
  const pcap = loadPcapBinding()
  const snapLen = opts.snapLen ?? DEFAULT_SNAPLEN
  const filter = opts.filter ?? ''
  const warnings: string[] = []
  const prevHandler = pcap.warningHandler
  // The binding reports pcap_lookupnet() failures (e.g. "no IPv4 address
  // assigned") through this module-global hook, which would console.warn.
  pcap.warningHandler = (w: string) => {
    warnings.push(String(w))
  }
  let session: PcapSession
  try {
    session = pcap.createSession(opts.interface, {
      filter,
      snap_length: snapLen,
      promiscuous: opts.promiscuous ?? true,
      buffer_timeout: (opts.immediate ?? true) ? 0 : 1000,
      buffer_size: opts.bufferSize ?? 16 * 1024 * 1024,
      monitor: false,
    })
  } catch (e) {
    throw classifyOpenError(opts, e instanceof Error ? e.message : String(e), e)
  } finally {
    pcap.warningHandler = prevHandler
  }
  try {
    return new LiveSource(session, {interface: opts.interface, snapLen, copy: opts.copy ?? true, filter}, warnings)
  } catch (e) {
    try {
      session.close()
    } catch {
      /* ignore */
    }
    throw e
  }
}
