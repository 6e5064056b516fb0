// The pcap binding is loaded only when a live capture is opened, so a
// missing or broken libpcap cannot take the rest of the CLI down with it.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {join} from 'node:path'
import {repoRoot} from '../support/env.js'

function pcapLoadedAfter(snippet: string): string {
  const code = `
    import {createRequire} from 'node:module'
    ${snippet}
    const cache = createRequire(import.meta.url).cache
    console.log(Object.keys(cache).some((k) => /node_modules[\\\\/]pcap[\\\\/]/.test(k)) ? 'loaded' : 'not-loaded')
  `
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {cwd: repoRoot, encoding: 'utf8', timeout: 20000})
  assert.equal(r.status, 0, r.stderr)
  return r.stdout.trim()
}

test('importing the capture command and live.ts does not load the binding', () => {
  const cmd = join(repoRoot, 'dist', 'cli', 'commands', 'capture.js')
  const live = join(repoRoot, 'dist', 'analyzer', 'capture', 'live.js')
  assert.equal(pcapLoadedAfter(`await import(${JSON.stringify(cmd)}); await import(${JSON.stringify(live)})`), 'not-loaded')
})

test('listing interfaces does load it (sanity check of the probe)', () => {
  const live = join(repoRoot, 'dist', 'analyzer', 'capture', 'live.js')
  assert.equal(pcapLoadedAfter(`const m = await import(${JSON.stringify(live)}); m.listInterfaces()`), 'loaded')
})
