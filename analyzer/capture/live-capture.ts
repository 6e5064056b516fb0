// Live capture of one or more interfaces into one pcapng file: the logic behind
// `handoff capture`. One pcapng Interface Description Block per interface
// (if_name = the interface name), packets in arrival order, and an Interface
// Statistics Block per interface at the end.
import {PcapngWriter} from './pcapng-writer.js'
import {LiveCaptureError, openLive, DEFAULT_SNAPLEN, type LiveSource, type LiveOptions} from './live.js'

export interface CaptureToFileOptions {
  /** Interface names (each at most once). */
  interfaces: string[]
  /** Output pcapng path. */
  file: string
  filter?: string
  /** Stop after this many packets in total (all interfaces). */
  count?: number
  /** Stop after this many seconds. */
  durationSec?: number
  snapLen?: number
  /** Default true. */
  promiscuous?: boolean
  bufferSize?: number
  /** Aborting it ends the capture normally (Ctrl-C). */
  signal?: AbortSignal
  /** Called once every interface is open and the file is ready. */
  onStart?: (ifaces: Array<{name: string; id: number; linkType: number}>) => void
  /** Called about every progressIntervalMs while capturing. */
  onProgress?: (p: CaptureProgress) => void
  /** Default 250 ms. */
  progressIntervalMs?: number
  /** SHB comment. */
  comment?: string
  /** shb_userappl. Default "handoff". */
  application?: string
  /** For tests: replaces openLive. */
  open?: (o: LiveOptions) => LiveSource
}

export interface InterfaceCounters {
  name: string
  /** Interface id in the pcapng file. */
  id: number
  linkType: number
  /** Packets written to the file. */
  packets: number
  /** Bytes on the wire of the written packets (sum of original lengths). */
  bytes: number
  /** Bytes written (≤ bytes when snapLen truncated packets). */
  capturedBytes: number
  /** Packets that passed the filter, per libpcap (ps_recv). */
  received: number
  /** Dropped by the kernel (ring full) + by the interface: what users call drops. */
  drops: number
  dropped: number
  ifDropped: number
  /** libpcap warnings at open, e.g. "no IPv4 address assigned". */
  warnings: string[]
}

export interface CaptureTotals {
  packets: number
  bytes: number
  capturedBytes: number
  drops: number
}

export interface CaptureProgress {
  elapsedSec: number
  interfaces: InterfaceCounters[]
  total: CaptureTotals
}

export type StopReason = 'count' | 'duration' | 'signal'

export interface CaptureSummary extends CaptureProgress {
  file: string
  filter: string | null
  snapLen: number
  stoppedBy: StopReason
  startedAt: string
  endedAt: string
}

function bad(message: string): LiveCaptureError {
  return new LiveCaptureError('bad-option', message)
}

function validate(opts: CaptureToFileOptions): void {
  if (!Array.isArray(opts.interfaces) || opts.interfaces.length === 0) throw bad('give at least one interface (-i)')
  const seen = new Set<string>()
  for (const i of opts.interfaces) {
    if (seen.has(i)) throw bad(`interface "${i}" is given more than once`)
    seen.add(i)
  }
  if (!opts.file) throw bad('no output file given (-w)')
  if (opts.count !== undefined && (!Number.isInteger(opts.count) || opts.count < 1)) {
    throw bad(`packet count must be a positive integer (got ${opts.count})`)
  }
  if (opts.durationSec !== undefined && (!Number.isFinite(opts.durationSec) || opts.durationSec <= 0)) {
    throw bad(`duration must be a positive number of seconds (got ${opts.durationSec})`)
  }
}

function nowTs(): {tsSec: number; tsNsec: number} {
  const ms = Date.now()
  return {tsSec: Math.floor(ms / 1000), tsNsec: (ms % 1000) * 1e6}
}

/**
 * Captures until `count` packets, `durationSec` or `signal` — whichever comes
 * first — and resolves with the summary once the file is complete. Rejects
 * with LiveCaptureError for interface, filter, privilege and output problems.
 *
 * The live sessions are closed before this resolves, but the pcap binding may
 * keep the event loop alive until a packet arrives on an idle interface (see
 * LiveSource.close): a CLI should exit explicitly once it is done.
 */
export async function captureToFile(opts: CaptureToFileOptions): Promise<CaptureSummary> {
  validate(opts)
  const open = opts.open ?? openLive
  const snapLen = opts.snapLen ?? DEFAULT_SNAPLEN

  // 1. Open every interface first, so a bad one leaves no file behind.
  const sources: LiveSource[] = []
  try {
    for (const name of opts.interfaces) {
      sources.push(
        // copy: false — the writer copies the bytes into its own buffer at once.
        open({
          interface: name,
          filter: opts.filter,
          snapLen,
          promiscuous: opts.promiscuous ?? true,
          bufferSize: opts.bufferSize,
          immediate: true,
          copy: false,
        }),
      )
    }
  } catch (e) {
    for (const s of sources) s.close()
    throw e
  }

  // 2. The file, one interface block per source.
  let writer: PcapngWriter
  const counters: InterfaceCounters[] = []
  try {
    writer = PcapngWriter.open(opts.file, {application: opts.application ?? 'handoff', comment: opts.comment})
    for (const s of sources) {
      const id = writer.addInterface({
        linkType: s.linkType,
        snapLen,
        name: s.iface,
        tsResolution: 'us',
        comment: opts.filter ? `BPF filter: ${opts.filter}` : undefined,
      })
      counters.push({
        name: s.iface,
        id,
        linkType: s.linkType,
        packets: 0,
        bytes: 0,
        capturedBytes: 0,
        received: 0,
        drops: 0,
        dropped: 0,
        ifDropped: 0,
        warnings: [...s.openWarnings],
      })
    }
  } catch (e) {
    for (const s of sources) s.close()
    const why = e instanceof Error ? e.message : String(e)
    throw new LiveCaptureError('output', `cannot write ${opts.file}: ${why}`, {cause: e})
  }

  const started = Date.now()
  let total = 0
  let stopped = false
  let failure: unknown = null
  let resolveDone!: (r: StopReason) => void
  const done = new Promise<StopReason>((res) => {
    resolveDone = res
  })
  let timer: NodeJS.Timeout | undefined
  let progressTimer: NodeJS.Timeout | undefined
  let flushTimer: NodeJS.Timeout | undefined

  const refreshStats = () => {
    sources.forEach((s, i) => {
      const st = s.stats()
      const c = counters[i]
      c.received = st.received
      c.dropped = st.dropped
      c.ifDropped = st.ifDropped
      c.drops = st.dropped + st.ifDropped
    })
  }
  const snapshot = (): CaptureProgress => {
    const t: CaptureTotals = {packets: 0, bytes: 0, capturedBytes: 0, drops: 0}
    for (const c of counters) {
      t.packets += c.packets
      t.bytes += c.bytes
      t.capturedBytes += c.capturedBytes
      t.drops += c.drops
    }
    return {elapsedSec: (Date.now() - started) / 1000, interfaces: counters.map((c) => ({...c, warnings: [...c.warnings]})), total: t}
  }

  const stop = (why: StopReason) => {
    if (stopped) return
    stopped = true
    refreshStats()
    for (const s of sources) s.close()
    resolveDone(why)
  }
  const fail = (e: unknown) => {
    if (failure === null) failure = e
    stop('signal')
  }

  sources.forEach((s, i) => {
    const c = counters[i]
    s.on('error', fail)
    s.on('packet', (p) => {
      if (stopped) return
      try {
        writer.writePacket(c.id, p.tsSec, p.tsNsec, p.data, p.origLen)
      } catch (e) {
        fail(new LiveCaptureError('output', `cannot write ${opts.file}: ${e instanceof Error ? e.message : String(e)}`, {cause: e}))
        return
      }
      c.packets++
      c.bytes += p.origLen
      c.capturedBytes += p.data.length
      total++
      if (opts.count !== undefined && total >= opts.count) stop('count')
    })
  })

  if (opts.onStart) {
    try {
      opts.onStart(counters.map((c) => ({name: c.name, id: c.id, linkType: c.linkType})))
    } catch {
      /* rendering only */
    }
  }
  if (opts.durationSec !== undefined) timer = setTimeout(() => stop('duration'), opts.durationSec * 1000)
  const onAbort = () => stop('signal')
  if (opts.signal) {
    if (opts.signal.aborted) stop('signal')
    else opts.signal.addEventListener('abort', onAbort, {once: true})
  }
  // Keep the file on disk close to live (the writer buffers up to 1 MiB).
  flushTimer = setInterval(() => {
    if (stopped) return
    try {
      writer.flush()
    } catch (e) {
      fail(new LiveCaptureError('output', `cannot write ${opts.file}: ${e instanceof Error ? e.message : String(e)}`, {cause: e}))
    }
  }, 1000)
  if (opts.onProgress) {
    const cb = opts.onProgress
    progressTimer = setInterval(() => {
      if (stopped) return
      refreshStats()
      try {
        cb(snapshot())
      } catch {
        /* a rendering problem must not end the capture */
      }
    }, opts.progressIntervalMs ?? 250)
  }

  const stoppedBy = await done
  if (timer) clearTimeout(timer)
  if (progressTimer) clearInterval(progressTimer)
  clearInterval(flushTimer)
  opts.signal?.removeEventListener('abort', onAbort)

  // 3. Statistics blocks and a complete file, even after a failure.
  const end = nowTs()
  try {
    for (const c of counters) writer.writeStats(c.id, {...end, received: c.received, dropped: c.drops})
    writer.close()
  } catch (e) {
    if (failure === null) {
      failure = new LiveCaptureError('output', `cannot write ${opts.file}: ${e instanceof Error ? e.message : String(e)}`, {cause: e})
    }
    try {
      writer.close()
    } catch {
      /* already reported */
    }
  }
  if (failure !== null) throw failure

  const snap = snapshot()
  return {
    file: opts.file,
    filter: opts.filter ?? null,
    snapLen,
    stoppedBy,
    startedAt: new Date(started).toISOString(),
    endedAt: new Date(end.tsSec * 1000 + end.tsNsec / 1e6).toISOString(),
    ...snap,
  }
}
