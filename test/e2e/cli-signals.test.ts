// End to end: Ctrl-C (SIGINT) or SIGTERM in the middle of a command that
// keeps temporary files (check's and sessions' spools, the copy of standard
// input) ends it with status 130 / 143 and leaves nothing in the temp
// directory; what a SIGKILL leaves goes at a later run (analyzer/temp-dir.ts).
// Standard input held open keeps the command waiting, its copy of the input
// on disk, for as long as the test likes.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {cliBin, repoRoot} from '../support/env.js'

const trace = join(repoRoot, 'samples', 'traces', 'lab-clean', 'lab.pcapng.gz')

async function interrupted(command: string, signal: 'SIGINT' | 'SIGTERM'): Promise<{code: number | null; signal: string | null; left: string[]}> {
  const tmp = mkdtempSync(join(tmpdir(), 'handoff-signal-test-'))
  const child = spawn(process.execPath, [cliBin, command, '-'], {env: {...process.env, TMPDIR: tmp}, stdio: ['pipe', 'ignore', 'ignore']})
  try {
    const ended = new Promise<{code: number | null; signal: string | null}>((resolve) => child.on('exit', (code, sig) => resolve({code, signal: sig})))
    // Part of a trace, and standard input left open: the command copies it to its temp dir and waits for the rest.
    child.stdin.write(readFileSync(trace).subarray(0, 4096))
    const deadline = Date.now() + 15_000
    while (!readdirSync(tmp).some((d) => d.startsWith('handoff-'))) {
      assert.ok(Date.now() < deadline, `${command} made no temporary file`)
      await new Promise((r) => setTimeout(r, 20))
    }
    child.kill(signal)
    const r = await ended
    return {...r, left: readdirSync(tmp)}
  } finally {
    // A failed assertion leaves the command waiting on its input: end it (a no-op once it has exited).
    child.kill('SIGKILL')
    rmSync(tmp, {recursive: true, force: true})
  }
}

for (const [command, signal, status] of [['check', 'SIGINT', 130], ['sessions', 'SIGTERM', 143]] as const) {
  test(`${command}: ${signal} exits ${status} and removes its temporary files`, async () => {
    const r = await interrupted(command, signal)
    assert.deepEqual({code: r.code, signal: r.signal}, {code: status, signal: null})
    assert.deepEqual(r.left, [], 'left in the temp dir')
  })
}

test('check: what a SIGKILL leaves in the temp directory is removed by the next run, once a day old', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'handoff-signal-test-'))
  const child = spawn(process.execPath, [cliBin, 'check', '-'], {env: {...process.env, TMPDIR: tmp}, stdio: ['pipe', 'ignore', 'ignore']})
  try {
    const ended = new Promise<void>((resolve) => child.on('exit', () => resolve()))
    child.stdin.write(readFileSync(trace).subarray(0, 4096))
    const deadline = Date.now() + 15_000
    while (!readdirSync(tmp).some((d) => d.startsWith('handoff-'))) {
      assert.ok(Date.now() < deadline, 'check made no temporary file')
      await new Promise((r) => setTimeout(r, 20))
    }
    child.kill('SIGKILL')
    await ended
    const left = readdirSync(tmp)
    assert.equal(left.length, 1, 'the copy of standard input is left behind')
    const run = () => spawnSync(process.execPath, [cliBin, 'check', trace], {env: {...process.env, TMPDIR: tmp}, encoding: 'utf8'})
    // Changed a moment ago: it may be a live process's in another PID namespace, so it stays.
    assert.equal(run().status, 0)
    assert.deepEqual(readdirSync(tmp), left)
    // A day and more: gone.
    const old = (Date.now() - 2 * 86400_000) / 1000
    for (const f of readdirSync(join(tmp, left[0]!))) utimesSync(join(tmp, left[0]!, f), old, old)
    utimesSync(join(tmp, left[0]!), old, old)
    assert.equal(run().status, 0)
    assert.deepEqual(readdirSync(tmp), [])
  } finally {
    child.kill('SIGKILL')
    rmSync(tmp, {recursive: true, force: true})
  }
})
