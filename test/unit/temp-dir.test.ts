// Temporary directories left behind by a killed process (analyzer/temp-dir.ts)
// are removed by the next run that makes one, and nothing else is: not a
// live process's, not a recent one, not one named otherwise.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'
import {makeTempDir, sweepStaleTempDirs} from '../../analyzer/temp-dir.js'
import {cliBin, repoRoot} from '../support/env.js'

/** The id of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {encoding: 'utf8'})
  return Number(r.stdout)
}

/** A directory `name` in dir with a file in it, both last changed `ageMs` ago. */
function leftBehind(dir: string, name: string, ageMs: number): string {
  const d = join(dir, name)
  mkdirSync(d)
  writeFileSync(join(d, 'records'), 'x')
  const t = (Date.now() - ageMs) / 1000
  utimesSync(join(d, 'records'), t, t)
  utimesSync(d, t, t)
  return d
}

test('sweepStaleTempDirs: only the directories of ended processes, unchanged for a day, named with their id', () => {
  const dir = mkdtempSync(join(tmpdir(), 'temp-dir-test-'))
  try {
    const dead = deadPid()
    const old = 2 * 86400_000
    const stale = leftBehind(dir, `handoff-control-p${dead}-aB3xYz`, old)
    const stdin = leftBehind(dir, `handoff-stdin-p${dead}-Q1w2E3`, old)
    const keep = [
      leftBehind(dir, `handoff-control-p${process.ppid}-aaaaaa`, old), // its process lives
      leftBehind(dir, `handoff-control-p${dead}-bbbbbb`, 2 * 3600_000), // changed two hours ago
      leftBehind(dir, 'handoff-control-cccccc', old), // named the old way: no id
      leftBehind(dir, `other-p${dead}-dddddd`, old), // not ours
    ]
    const removed = sweepStaleTempDirs(dir)
    assert.deepEqual(removed.sort(), [basename(stale), basename(stdin)].sort())
    assert.ok(!existsSync(stale) && !existsSync(stdin))
    for (const k of keep) assert.ok(existsSync(k), `${basename(k)} kept`)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('makeTempDir: named with the process id', () => {
  const d = makeTempDir('handoff-test-')
  try {
    assert.match(basename(d), new RegExp(`^handoff-test-p${process.pid}-[A-Za-z0-9]{6}$`))
  } finally {
    rmSync(d, {recursive: true, force: true})
  }
})

test('handoff check: a spool directory a killed run left behind is removed by the next run; the run leaves none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'temp-dir-cli-'))
  try {
    const stale = leftBehind(dir, `handoff-control-p${deadPid()}-zZ9yY8`, 2 * 86400_000)
    const r = spawnSync(process.execPath, [cliBin, 'check', join(repoRoot, 'samples', 'traces', 'lab-clean', 'lab.pcapng.gz')],
      {encoding: 'utf8', env: {...process.env, TMPDIR: dir}})
    assert.equal(r.status, 0, r.stderr)
    assert.ok(!existsSync(stale))
    assert.deepEqual(readdirSync(dir), [])
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})
