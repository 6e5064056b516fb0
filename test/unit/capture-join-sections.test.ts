// joinSections (analyzer/capture/join-sections.ts): an interface of a later
// pcapng section with the same link type and name as an earlier one (or,
// unnamed, the same position in its section) is reported as the earlier one.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {joinSections} from '../../analyzer/capture/join-sections.js'
import {readCaptureSync} from '../../analyzer/capture/read.js'
import {concat, epb, idb, shb} from '../../analyzer/capture/testing.js'

const dir = mkdtempSync(join(tmpdir(), 'handoff-join-sections-'))
process.on('exit', () => rmSync(dir, {recursive: true, force: true}))

const data = (k: number) => Uint8Array.of(k, k, k, k)

function read(bytes: Uint8Array, joined: boolean): {ifaces: number[]; packets: [number, number][]} {
  const p = join(dir, `f${Math.random().toString(36).slice(2)}.pcapng`)
  writeFileSync(p, bytes)
  const out = {ifaces: [] as number[], packets: [] as [number, number][]}
  const h = {onInterface: (i: {id: number}) => { out.ifaces.push(i.id) }, onPacket: (r: {interfaceId: number; data: Uint8Array}) => { out.packets.push([r.interfaceId, r.data[0]!]) }}
  readCaptureSync(p, joined ? joinSections(h) : h)
  return out
}

test('named interfaces are joined by name and link type across sections, in either byte order', () => {
  const sec = (le: boolean, names: string[], first: number) => concat(shb(le),
    ...names.map((n) => idb(le, {linkType: n === 'ctl' ? 113 : 1, options: [[2, n]]})),
    ...names.map((_, k) => epb(le, {ifid: k, ts: 1n, data: data(first + k)})))
  const f = concat(sec(true, ['client', 'lan'], 1), sec(false, ['lan', 'client', 'ctl'], 10), sec(true, ['client'], 20))
  assert.deepEqual(read(f, false).packets, [[0, 1], [1, 2], [2, 10], [3, 11], [4, 12], [5, 20]])
  const j = read(f, true)
  assert.deepEqual(j.ifaces, [0, 1, 4])
  assert.deepEqual(j.packets, [[0, 1], [1, 2], [1, 10], [0, 11], [4, 12], [0, 20]])
})

test('unnamed interfaces are joined by position; another link type or a name is another interface', () => {
  const le = true
  const f = concat(
    shb(le), idb(le, {linkType: 1}), idb(le, {linkType: 101}), epb(le, {ifid: 0, ts: 1n, data: data(1)}), epb(le, {ifid: 1, ts: 1n, data: data(2)}),
    shb(le), idb(le, {linkType: 101}), idb(le, {linkType: 101}), idb(le, {linkType: 1, options: [[2, 'eth0']]}),
    epb(le, {ifid: 0, ts: 1n, data: data(3)}), epb(le, {ifid: 1, ts: 1n, data: data(4)}), epb(le, {ifid: 2, ts: 1n, data: data(5)}))
  const j = read(f, true)
  // Section 2: position 0 is RAW (section 1's position 0 is Ethernet): new; position 1 RAW: joined with id 1; eth0 named: new.
  assert.deepEqual(j.ifaces, [0, 1, 2, 4])
  assert.deepEqual(j.packets, [[0, 1], [1, 2], [2, 3], [1, 4], [4, 5]])
})

test('a later section that overlaps the earlier one in time is another capture (two hosts\' eth0): not joined', () => {
  const le = true
  const sec = (t0: bigint, k: number) => concat(shb(le), idb(le, {options: [[2, 'eth0']]}),
    epb(le, {ifid: 0, ts: t0 * 1_000_000n, data: data(k)}), epb(le, {ifid: 0, ts: (t0 + 100n) * 1_000_000n, data: data(k + 1)}))
  // Glued after it (a ring buffer): joined. Started before its end (another host): apart, reported at its first packet.
  assert.deepEqual(read(concat(sec(1000n, 1), sec(1100n, 3)), true).packets, [[0, 1], [0, 2], [0, 3], [0, 4]])
  const apart = read(concat(sec(1000n, 1), sec(1050n, 3)), true)
  assert.deepEqual(apart.packets, [[0, 1], [0, 2], [1, 3], [1, 4]])
  assert.deepEqual(apart.ifaces, [0, 1])
})
