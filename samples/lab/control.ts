// The daemons' control channel (spec §3): one persistent TCP connection per
// pair of nodes on the control network (port 7070), length-prefixed
// MessagePack frames through the project's codec, hello first, ping/pong
// keep-alive. The node with the higher index dials, the lower one listens.
import {createServer, connect, type Server, type Socket} from 'node:net'
import {encodeFrame, FrameDecoder, type ControlMessage, type Hello} from '../../analyzer/control/index.js'

export interface PeerAddr {
  name: string
  ctlAddr: string
  index: number
}

export interface PeerInfo {
  name: string
  addr: string
  mac: string
  socket: Socket
  /** performance.now() of the last frame received from this peer. */
  lastHeard: number
}

/** A channel that has carried nothing (not even a pong) for this long is closed; the dialer reconnects. */
export const PEER_SILENCE_MS = 5000

export interface ControlOptions {
  me: PeerAddr & {addr: string; mac: string}
  peers: PeerAddr[]
  port: number
  onMessage: (from: PeerInfo, msg: ControlMessage) => void
  log: (s: string) => void
}

export function nowUs(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000)
}

export class ControlChannels {
  private readonly opts: ControlOptions
  private server: Server | null = null
  readonly peers = new Map<string, PeerInfo>()
  private pingN = 0
  private pingTimer: NodeJS.Timeout | null = null
  private closed = false

  constructor(opts: ControlOptions) {
    this.opts = opts
  }

  start(): void {
    const {me, port} = this.opts
    this.server = createServer((s) => this.attach(s))
    this.server.on('error', (e) => this.opts.log(`control: listen error: ${e.message}`))
    this.server.listen(port, me.ctlAddr)
    for (const p of this.opts.peers) if (p.index < me.index) this.dial(p)
    this.pingTimer = setInterval(() => {
      this.pingN++
      const now = performance.now()
      for (const peer of this.peers.values()) {
        if (now - peer.lastHeard > PEER_SILENCE_MS) {
          this.opts.log(`control: nothing from ${peer.name} for ${PEER_SILENCE_MS} ms: closing the channel`)
          peer.socket.destroy()
          continue
        }
        this.sendTo(peer, {v: 1, t: 'ping', node: me.name, at: nowUs(), n: this.pingN})
      }
    }, 1000)
  }

  private dial(p: PeerAddr): void {
    if (this.closed) return
    const s = connect({host: p.ctlAddr, port: this.opts.port})
    let up = false
    s.once('connect', () => {
      up = true
    })
    s.once('close', () => {
      if (this.closed) return
      setTimeout(() => this.dial(p), up ? 200 : 100)
    })
    s.on('error', () => {
      /* close follows; retried */
    })
    this.attach(s)
  }

  private attach(s: Socket): void {
    const {me} = this.opts
    s.setNoDelay(true)
    let peer: PeerInfo | null = null
    const hello: Hello = {v: 1, t: 'hello', node: me.name, at: nowUs(), addr: me.addr, mac: me.mac}
    const sendHello = () => s.write(encodeFrame(hello))
    if (s.connecting) s.once('connect', sendHello)
    else sendHello()
    const dec = new FrameDecoder({
      onEvent: (ev) => {
        if (ev.kind === 'error') {
          this.opts.log(`control: framing error from ${peer?.name ?? s.remoteAddress}: ${ev.reason}: ${ev.detail}`)
          if (ev.fatal) s.destroy()
          return
        }
        const msg = ev.msg
        if (peer !== null) peer.lastHeard = performance.now()
        if (msg.t === 'hello') {
          this.hellos++
          peer = {name: msg.node, addr: msg.addr, mac: msg.mac, socket: s, lastHeard: performance.now()}
          this.peers.set(msg.node, peer)
          this.opts.log(`control: channel to ${msg.node} up (${msg.addr} ${msg.mac})`)
          return
        }
        if (peer === null) {
          this.opts.log(`control: ${msg.t} before hello from ${s.remoteAddress}: ignored`)
          return
        }
        if (msg.t === 'ping') {
          this.sendTo(peer, {v: 1, t: 'pong', node: me.name, at: nowUs(), n: msg.n})
          return
        }
        if (msg.t === 'pong') return
        this.opts.onMessage(peer, msg)
      },
    })
    s.on('data', (d) => dec.push(d))
    s.on('error', () => {
      /* close follows */
    })
    s.on('close', () => {
      if (peer && this.peers.get(peer.name)?.socket === s) {
        this.peers.delete(peer.name)
        if (!this.closed) this.opts.log(`control: channel to ${peer.name} closed`)
      }
    })
  }

  /** hello messages received so far (every channel (re)opened counts). */
  hellos = 0

  /**
   * Closes every channel; the dialing side of each pair reconnects at once.
   * `lab run --record` asks for this so the trace holds each control
   * connection from its SYN and hello on (an analyzer cannot find frame
   * boundaries in a stream it joins midway).
   */
  reconnect(): void {
    for (const p of this.peers.values()) p.socket.destroy()
  }

  sendTo(peer: PeerInfo, msg: ControlMessage): boolean {
    if (peer.socket.destroyed) return false
    peer.socket.write(encodeFrame(msg))
    return true
  }

  send(node: string, msg: ControlMessage): boolean {
    const p = this.peers.get(node)
    return p ? this.sendTo(p, msg) : false
  }

  close(): void {
    this.closed = true
    if (this.pingTimer) clearInterval(this.pingTimer)
    this.server?.close()
    for (const p of this.peers.values()) p.socket.destroy()
  }
}
