// Phase 1 of the lab: `lab up` builds the namespaces (client, LAN, per node a
// stack and a daemon namespace, a control network), `lab status` reports
// them, a plain curl from the client reaches every node through its
// bump-in-the-wire daemon, and `lab down` leaves nothing behind.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {chooseNode, defaultPartition, expectedBody} from '../../samples/lab/config.js'
import {execFileSync, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {cliBin, hasCommand, isRoot, requireOrSkip} from '../support/env.js'
import type {TestContext} from 'node:test'
import {canRunLab, cli, downQuietly, labId, labNamespaces, leftovers, waitForCounters} from '../support/lab.js'

test('lab up / status / curl through the daemons / down', {timeout: 60000}, async (t) => {
  if (!canRunLab(t)) return
  const id = labId()
  try {
    const up = cli(['lab', 'up', '--nodes', '2', '--id', id])
    assert.equal(up.status, 0, `lab up failed: ${up.stderr}${up.stdout}`)
    assert.match(up.stdout, new RegExp(`lab ${id} is up: 2 node`))
    const ns = labNamespaces(id).sort()
    assert.deepEqual(ns, [`ho-${id}-cl`, `ho-${id}-d1`, `ho-${id}-d2`, `ho-${id}-lan`, `ho-${id}-s1`, `ho-${id}-s2`])

    const st = cli(['lab', 'status', '--id', id, '--json'])
    assert.equal(st.status, 0, st.stderr)
    const [s] = JSON.parse(st.stdout)
    assert.equal(s.id, id)
    assert.equal(s.nodes.length, 2)
    for (const n of s.nodes) {
      assert.ok(n.daemonAlive && n.serverAlive, `${n.name}: daemon/server not running`)
      assert.match(n.mac, /^02:77:00:00:00:[0-9a-f]{2}$/)
      assert.match(n.addr, /^10\.77\.0\.\d+$/)
      assert.equal(n.status.peers.length, 1, `${n.name}: control channel not up`)
    }
    const human = cli(['lab', 'status', '--id', id])
    assert.match(human.stdout, /n1\s+10\.77\.0\.11\s+02:77:00:00:00:0b\s+10\.77\.200\.1/)

    // The relay interfaces are quiet: no IPv4 address, IPv6 off, offloads off.
    for (const d of ['d1', 'd2']) {
      for (const i of ['in0', 'lan0']) {
        const addr = execFileSync('ip', ['-n', `ho-${id}-${d}`, '-o', 'addr', 'show', 'dev', i], {encoding: 'utf8'})
        assert.doesNotMatch(addr, /inet/, `${d}/${i} has an address: ${addr}`)
        const v6 = execFileSync('ip', ['netns', 'exec', `ho-${id}-${d}`, 'sysctl', '-n', `net.ipv6.conf.${i}.disable_ipv6`], {encoding: 'utf8'})
        assert.equal(v6.trim(), '1')
        const k = execFileSync('ip', ['netns', 'exec', `ho-${id}-${d}`, 'ethtool', '-k', i], {encoding: 'utf8'})
        assert.match(k, /tcp-segmentation-offload: off/)
        assert.match(k, /generic-receive-offload: off/)
        assert.match(k, /tx-checksumming: off/)
      }
    }

    // A plain curl to each node, for a path that node serves itself: pure relay through its daemon.
    const names = ['n1', 'n2']
    const part = defaultPartition(2)
    for (const [i, node] of names.entries()) {
      let path = ''
      for (let k = 0; ; k++) {
        path = `/local/${k}`
        if (chooseNode(path, part, names) === node) break
      }
      const body = execFileSync('ip', ['netns', 'exec', `ho-${id}-cl`, 'curl', '-sS', '-m', '5', `http://10.77.0.${11 + i}${path}`])
      assert.ok(body.equals(expectedBody(path, node)), `body of ${path} from ${node} differs`)
    }
    // The daemons write their status every 200 ms (later under load): wait for the counts, then read them through the CLI.
    await waitForCounters(id, {n1: {local: 1}, n2: {local: 1}})
    const after = JSON.parse(cli(['lab', 'status', '--id', id, '--json']).stdout)[0]
    for (const n of after.nodes) {
      assert.ok(n.status.counters.relayedFromLan > 0 && n.status.counters.relayedFromStack > 0, `${n.name} relayed nothing`)
      assert.ok(n.status.counters.local >= 1, `${n.name} served nothing locally`)
    }

    const down = cli(['lab', 'down', '--id', id])
    assert.equal(down.status, 0, down.stderr)
    assert.match(down.stdout, new RegExp(`lab ${id} removed: 6 namespace`))
    assert.deepEqual(leftovers(id), [])
  } finally {
    downQuietly(id)
  }
})

test('lab down removes leftovers of a crashed lab (namespaces without state)', {timeout: 30000}, async (t) => {
  if (!canRunLab(t)) return
  const id = labId()
  try {
    execFileSync('ip', ['netns', 'add', `ho-${id}-lan`])
    execFileSync('ip', ['-n', `ho-${id}-lan`, 'link', 'add', 'br0', 'type', 'bridge'])
    const down = cli(['lab', 'down', '--id', id])
    assert.equal(down.status, 0, down.stderr)
    assert.deepEqual(leftovers(id), [])
  } finally {
    downQuietly(id)
  }
})

test('lab commands refuse clearly', {timeout: 30000}, async (t) => {
  if (!canRunLab(t)) return
  const r = cli(['lab', 'status', '--id', 'nosuch'])
  assert.equal(r.status, 2)
  assert.match(r.stderr, /no lab with id "nosuch" is up/)
  const bad = cli(['lab', 'up', '--id', 'BAD_ID'])
  assert.equal(bad.status, 2)
  assert.match(bad.stderr, /lab id must be 1-6 of \[a-z0-9\]/)
  const run = cli(['lab', 'run', '--id', 'nosuch', '--requests', '1'])
  assert.equal(run.status, 2)
  assert.match(run.stderr, /no lab with id "nosuch" is up/)
})
