// A copy of a capture in which its first client connection lives to the end
// of the trace: the last pure ACK that connection's client sent, as each
// view captured it, is captured again every `everySec` seconds (same bytes,
// the views' own delays between them kept) until the capture's last packet —
// a keep-alive connection that outlasts every other one (check --infer's
// segment pass must not hold the later inferred handoffs back for it).
import {readCapture} from '../../analyzer/capture/read.js'
import {PcapngWriter} from '../../analyzer/capture/pcapng-writer.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {TCP_FLAG} from '../../analyzer/wire/tcp.js'

interface Copy {
  iface: number
  sec: number
  nsec: number
  data: Uint8Array
  origLen: number
}

/** everySec: whole seconds. */
export async function keepFirstConnectionAlive(src: string, dst: string, everySec: number): Promise<{client: string; added: number}> {
  const dec = new PacketDecoder({verifyChecksums: false})
  let client: string | null = null
  const lastAck = new Map<number, Copy>()
  let end = -Infinity
  await readCapture(src, {
    onPacket: (rec) => {
      const t = rec.tsSec + rec.tsNsec / 1e9
      if (t > end) end = t
      const d = dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset)
      if (d.transport !== 'tcp' || d.l4HeaderLen === 0) return
      const from = `${d.srcAddr()}:${d.srcPort}`
      if (client === null && (d.tcpFlags & (TCP_FLAG.SYN | TCP_FLAG.ACK)) === TCP_FLAG.SYN) client = from
      if (from !== client || d.tcpFlags !== TCP_FLAG.ACK || d.payloadWireLen !== 0) return
      lastAck.set(rec.interfaceId, {iface: rec.interfaceId, sec: rec.tsSec, nsec: rec.tsNsec, data: rec.data.slice(0, rec.capLen), origLen: rec.origLen})
    },
  })
  if (client === null || lastAck.size === 0) throw new Error(`${src}: no client connection with a pure ACK`)
  const added: Copy[] = []
  for (const c of lastAck.values()) for (let sec = c.sec + everySec; sec + c.nsec / 1e9 < end; sec += everySec) added.push({...c, sec})
  added.sort((a, b) => a.sec - b.sec || a.nsec - b.nsec || a.iface - b.iface)
  const w = PcapngWriter.open(dst, {application: 'handoff test/support/keep-alive.ts'})
  let next = 0
  try {
    await readCapture(src, {
      onInterface: (i) => { w.addInterface({linkType: i.linkType, ...(i.name !== undefined ? {name: i.name} : {})}) },
      onPacket: (rec) => {
        for (let c = added[next]; c !== undefined && (c.sec < rec.tsSec || (c.sec === rec.tsSec && c.nsec <= rec.tsNsec)); c = added[++next]) {
          w.writePacket(c.iface, c.sec, c.nsec, c.data, c.origLen)
        }
        w.writePacket(rec.interfaceId, rec.tsSec, rec.tsNsec, rec.data.subarray(0, rec.capLen), rec.origLen)
      },
    })
  } finally {
    w.close()
  }
  return {client, added: added.length}
}
