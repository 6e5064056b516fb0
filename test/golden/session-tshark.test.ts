// Our session tracker (analyzer/flows/session.ts) against tshark 4.0, frame
// by frame, over every capture of ../shared/captures that holds TCP: the
// stream each segment belongs to (compared as a grouping: tshark stream ↔
// our session must be one-to-one) and every tcp.analysis flag, with the
// duplicate-ACK number. The expected values were produced once by
// scripts/make-tshark-analysis-goldens.sh and committed in
// test/fixtures/tshark-analysis/.
//
// Frames tshark analyses and we do not track must have a named reason (an IP
// fragment, a TCP header cut by the snap length, or TCP our decoder does not
// reach — tunnels and ICMP quotes, which tshark-fields.test.ts covers).
// Known, legitimate differences are listed in DIFFERENCES, each for one file
// and frame set, with the reason; nothing is loosened globally.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {readCapture} from '../../analyzer/capture/read.js'
import {CaptureError} from '../../analyzer/capture/types.js'
import {PacketDecoder} from '../../analyzer/wire/decode.js'
import {SessionTracker} from '../../analyzer/flows/session.js'
import {ANOMALY_BITS, ANOMALY_NAMES, TCP_A, TSHARK_FIELDS, retransmissionField} from '../../analyzer/flows/tcp-analysis.js'
import {repoRoot, requireOrSkip, sharedCaptures} from '../support/env.js'
import {loadTsharkGolden, type GoldenRow} from '../support/tshark-golden.js'
import {collectSessions} from '../../analyzer/sessions/collect.js'
import type {SessionRow} from '../../analyzer/sessions/sessions.js'
import type {ConnectionRow} from '../../analyzer/sessions/merge.js'
import {normAddr} from '../../analyzer/correlate/assemble.js'

const goldenDir = join(repoRoot, 'test', 'fixtures', 'tshark-analysis')

type Row = GoldenRow
const loadGolden = (name: string): Row[] => loadTsharkGolden(goldenDir, name)

interface Ours {
  stream: number
  flags: number
  dupAckNum: number
}

interface Run {
  frames: Map<number, Ours>
  /** Frames not tracked, with the reason. */
  untracked: Map<number, 'fragment' | 'truncated' | 'not-decoded'>
  sessions: number
}

export async function track(path: string): Promise<Run> {
  const dec = new PacketDecoder()
  const tracker = new SessionTracker()
  const frames = new Map<number, Ours>()
  const untracked = new Map<number, 'fragment' | 'truncated' | 'not-decoded'>()
  try {
    await readCapture(path, {
      onPacket: (rec) => {
        dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset)
        const s = tracker.add(dec, rec)
        if (s !== null) frames.set(rec.index, {stream: s.id, flags: tracker.flags, dupAckNum: tracker.dupAckNum})
        else if (dec.transport === 'tcp' && dec.isFragment) untracked.set(rec.index, 'fragment')
        else if (dec.transport === 'tcp' && dec.l4HeaderLen === 0) untracked.set(rec.index, 'truncated')
        else untracked.set(rec.index, 'not-decoded')
      },
    })
  } catch (e) {
    if (!(e instanceof CaptureError)) throw e
  }
  tracker.finish()
  return {frames, untracked, sessions: tracker.sessions}
}

/**
 * Documented differences: file → frame → the flags tshark has that we do not
 * (missing) and we have that tshark does not (extra), and why.
 */
const DIFFERENCES: Record<string, {frames: number[]; missing?: number; extra?: number; why: string}[]> = {
}

const present = (v: string | undefined) => v !== undefined && v !== ''

const goldens = existsSync(goldenDir) ? readdirSync(goldenDir).filter((f) => f.endsWith('.tsv.gz')).map((f) => f.slice(0, -7)).sort() : []

test('there are tshark analysis goldens for the TCP captures', (t) => {
  if (!requireOrSkip(t, existsSync(sharedCaptures), `shared captures not found at ${sharedCaptures}`)) return
  assert.ok(goldens.length >= 25, `only ${goldens.length} goldens: run scripts/make-tshark-analysis-goldens.sh`)
})

for (const name of goldens) {
  test(`session tracking agrees with tshark: ${name}`, async (t) => {
    const path = join(sharedCaptures, name)
    if (!requireOrSkip(t, existsSync(path), `capture ${path} not found`)) return
    const golden = loadGolden(name)
    const run = await track(path)
    const t2o = new Map<string, number>()
    const o2t = new Map<number, string>()
    const diffs = DIFFERENCES[name] ?? []
    const problems: string[] = []
    for (const row of golden) {
      const frame = Number(row['frame.number'])
      const tStream = row['tcp.stream'].split(',')[0]
      const ours = run.frames.get(frame)
      if (ours === undefined) {
        const why = run.untracked.get(frame)
        if (why === undefined) problems.push(`frame ${frame}: tshark has TCP, we never saw the frame`)
        continue
      }
      // only the first TCP layer of a frame is ours to compare (tshark lists quoted/tunnelled ones too)
      if (row['tcp.stream'].includes(',')) continue
      const mapped = t2o.get(tStream)
      if (mapped === undefined) {
        if (o2t.has(ours.stream)) problems.push(`frame ${frame}: our session ${ours.stream} is tshark stream ${o2t.get(ours.stream)}, here ${tStream}`)
        t2o.set(tStream, ours.stream)
        o2t.set(ours.stream, tStream)
      } else if (mapped !== ours.stream) {
        problems.push(`frame ${frame}: tshark stream ${tStream} is our session ${mapped}, here ${ours.stream}`)
      }
      let want = 0
      for (let i = 0; i < ANOMALY_BITS; i++) if (present(row[TSHARK_FIELDS[i]])) want |= 1 << i
      let got = ours.flags
      // tshark shows tcp.analysis.retransmission on fast and spurious retransmissions too
      if (retransmissionField(got)) got |= TCP_A.RETRANSMISSION
      const d = diffs.find((x) => x.frames.includes(frame))
      if (d !== undefined) {
        assert.equal(want & ~got, d.missing ?? 0, `${name} frame ${frame}: documented difference changed (missing): ${d.why}`)
        assert.equal(got & ~want, d.extra ?? 0, `${name} frame ${frame}: documented difference changed (extra): ${d.why}`)
        want = (want & ~(d.missing ?? 0)) | (d.extra ?? 0)
      }
      if (want !== got) {
        const names = (m: number) => ANOMALY_NAMES.filter((_, i) => m & (1 << i)).join('+') || 'none'
        problems.push(`frame ${frame}: tshark ${names(want)}, ours ${names(got)}`)
      }
      const tDup = row['tcp.analysis.duplicate_ack_num']
      if (present(tDup) && (want & TCP_A.DUPLICATE_ACK)) {
        if (Number(tDup.split(',')[0]) !== ours.dupAckNum) problems.push(`frame ${frame}: duplicate ACK #${tDup}, ours #${ours.dupAckNum}`)
      }
    }
    assert.deepEqual(problems.slice(0, 30), [], `${name}: ${problems.length} disagreement(s)`)
  })
}

interface ManifestEntry {file: string; tcp_streams: number; exercises?: string}

/**
 * Files whose tcp_streams we are allowed not to reach, and why. (Empty: on
 * the shared captures we match every count, the fragment files included —
 * their first fragments come with a whole, unfragmented handshake.)
 */
const STREAM_COUNT_EXCEPTIONS: Record<string, string> = {}

test('one session per tcp.stream of the MANIFEST, for every capture', async (t) => {
  const manifestPath = join(sharedCaptures, 'MANIFEST.json')
  if (!requireOrSkip(t, existsSync(manifestPath), `${manifestPath} not found`)) return
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as ManifestEntry[]
  const wrong: string[] = []
  for (const e of manifest) {
    const run = await track(join(sharedCaptures, e.file))
    if (e.file in STREAM_COUNT_EXCEPTIONS) {
      if (run.sessions === e.tcp_streams) wrong.push(`${e.file}: now matches; remove the exception`)
      continue
    }
    if (run.sessions !== e.tcp_streams) wrong.push(`${e.file}: ${run.sessions} sessions, MANIFEST tcp_streams ${e.tcp_streams}`)
  }
  assert.deepEqual(wrong, [])
})

// ---- `handoff sessions` rows against tshark's conversation table ----
// test/fixtures/tshark-conv/ (scripts/make-tshark-conv-goldens.sh) holds
// `tshark -z conv,tcp` for every capture with TCP: one line per tcp.stream,
// its endpoints, frames each way and duration. Each is compared with the
// rows of `collectSessions`, per view (--per-view) and merged into
// connections (the default). Every capture here is one vantage point for its
// TCP, so merging must change nothing: one connection per session, the same
// numbers.

const convDir = join(repoRoot, 'test', 'fixtures', 'tshark-conv')

interface Conv {a: string; aPort: number; b: string; bPort: number; aToB: number; bToA: number; durationSec: number}

/** Splits "10.0.0.1:80" / "2001:db8::1:80" at the last colon. */
function endpoint(s: string): [string, number] {
  const i = s.lastIndexOf(':')
  return [normAddr(s.slice(0, i)), Number(s.slice(i + 1))]
}

export function parseConv(text: string): Conv[] {
  const out: Conv[] = []
  for (const line of text.split('\n')) {
    const t = line.trim().split(/\s+/)
    if (t[1] !== '<->') continue
    // A <-> B  frames bytes unit (B → A)  frames bytes unit (A → B)  frames bytes unit (total)  start  duration
    assert.equal(t.length, 14, `unexpected conv line: ${line}`)
    const [a, aPort] = endpoint(t[0]!)
    const [b, bPort] = endpoint(t[2]!)
    out.push({a, aPort, b, bPort, bToA: Number(t[3]), aToB: Number(t[6]), durationSec: Number(t[13])})
  }
  return out
}

const convGoldens = existsSync(convDir) ? readdirSync(convDir).filter((f) => f.endsWith('.txt')).map((f) => f.slice(0, -4)).sort() : []

test('there are tshark conversation goldens for the TCP captures', (t) => {
  if (!requireOrSkip(t, existsSync(sharedCaptures), `shared captures not found at ${sharedCaptures}`)) return
  assert.ok(convGoldens.length >= 25, `only ${convGoldens.length} goldens: run scripts/make-tshark-conv-goldens.sh`)
})

type Numbers = Pick<SessionRow, 'client' | 'clientPort' | 'server' | 'serverPort' | 'state' | 'history' | 'packets' | 'bytes' | 'durationSec'>
const numbers = (r: Numbers) => ({client: r.client, clientPort: r.clientPort, server: r.server, serverPort: r.serverPort, state: r.state,
  history: r.history, packets: r.packets, bytes: r.bytes, durationSec: r.durationSec})

for (const name of convGoldens) {
  test(`sessions rows agree with tshark -z conv,tcp, per view and merged: ${name}`, async (t) => {
    const path = join(sharedCaptures, name)
    if (!requireOrSkip(t, existsSync(path), `capture ${path} not found`)) return
    const convs = parseConv(readFileSync(join(convDir, `${name}.txt`), 'utf8'))
    const perView = await collectSessions([path], {}, {perView: true})
    const merged = await collectSessions([path], {})
    assert.equal(perView.mode, 'per-view')
    assert.equal(merged.mode, 'connections')
    const views = perView.rows as SessionRow[]
    const conns = merged.rows as ConnectionRow[]
    assert.equal(views.length, convs.length, 'one per-view row per tshark conversation')
    assert.equal(conns.length, convs.length, 'one connection per tshark conversation (one vantage point)')
    assert.equal(merged.summary.connections, convs.length)
    // Merged == per view: same numbers, and each connection seen at one view, in its one session.
    const key = (r: Numbers) => JSON.stringify(numbers(r))
    assert.deepEqual(conns.map(key).sort(), views.map(key).sort())
    for (const c of conns) {
      assert.equal(c.seenAt.length, 1)
      const v = views.find((x) => x.stream === c.seenAt[0]!.stream)!
      assert.equal(key(c), key(v))
      assert.deepEqual(c.anomalies.map((a) => a.flags), Object.keys(v.anomalies).length > 0 ? [v.anomalies] : [])
    }
    // Each conversation: one row with its endpoints, its frames each way, its duration. tshark also counts
    // the IP fragments and cut TCP headers that the tracker leaves out (and reports): that many frames may lack.
    const f = merged.files[0]!
    let spare = f.skippedFragments + f.skippedTruncated
    // And the other way: a TCP header the snap length cut inside its options is tracked (ports, numbers, flags
    // are there) where tshark's conversation table leaves the frame out: that many frames may be extra.
    let extra = 0
    const dec = new PacketDecoder()
    await readCapture(path, {onPacket: (rec) => {
      dec.decode(rec.linkType, rec.buffer, rec.capLen, rec.origLen, rec.dataOffset)
      if (dec.transport === 'tcp' && dec.l4HeaderLen === 0 && dec.snaplenTruncated && dec.hasAnomaly('truncated-tcp-header')) extra++
    }}).catch((e: unknown) => { if (!(e instanceof CaptureError)) throw e })
    const left = [...conns]
    const problems: string[] = []
    for (const cv of convs) {
      let lack = 0
      const i = left.findIndex((r) => {
        const c = [normAddr(r.client), r.clientPort]
        const s = [normAddr(r.server), r.serverPort]
        const [ab, ba] = c[0] === cv.a && c[1] === cv.aPort && s[0] === cv.b && s[1] === cv.bPort ? [r.packets.toServer, r.packets.toClient]
          : c[0] === cv.b && c[1] === cv.bPort && s[0] === cv.a && s[1] === cv.aPort ? [r.packets.toClient, r.packets.toServer] : [-1, -1]
        if (ab < 0 || ab > cv.aToB + extra || ba > cv.bToA + extra || ab + ba > cv.aToB + cv.bToA + extra) return false
        if (Math.max(0, cv.aToB - ab) + Math.max(0, cv.bToA - ba) > spare) return false
        // Extra frames (see above) may make the session longer, never shorter.
        const longer = ab + ba > cv.aToB + cv.bToA ? r.durationSec - cv.durationSec >= -1e-4 : false
        if (!longer && Math.abs(r.durationSec - cv.durationSec) > 1e-4) return false
        lack = Math.max(0, cv.aToB - ab) + Math.max(0, cv.bToA - ba)
        extra -= Math.max(0, ab - cv.aToB) + Math.max(0, ba - cv.bToA)
        return true
      })
      if (i < 0) problems.push(`${cv.a}:${cv.aPort} <-> ${cv.b}:${cv.bPort} ${cv.aToB}/${cv.bToA} frames ${cv.durationSec} s: no such row`)
      else {
        left.splice(i, 1)
        spare -= lack
      }
    }
    assert.deepEqual(problems.slice(0, 20), [], `${name}: ${problems.length} conversation(s) not matched`)
  })
}
