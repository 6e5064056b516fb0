// The temporary directories of handoff's (the spools of check and sessions,
// standard input's copy): named with the process's id, so that one left
// behind by a process that never ran its exit hooks (SIGKILL, the OOM
// killer, a power cut) can be told from one in use, and is removed by the
// next run that makes one. A spool of a long trace is as large as the
// trace (standard input's copy) or a good part of it.
//
// Left behind: the process of that id is gone (signal 0 says ESRCH; EPERM
// means it lives, as another user) and nothing in the directory has changed
// for STALE_MS, a day (a guard against a /tmp shared with another PID
// namespace, where a live process's id is not ours to see: a spool is
// written once and then only read, so its time says when it was written,
// and no run lasts a day). Directories named the old way (no id) are never
// touched.
import {mkdtempSync, readdirSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

const STALE_MS = 24 * 60 * 60 * 1000
const NAME = /^handoff-[a-z-]+-p(\d+)-[A-Za-z0-9]{6}$/

let swept = false

/**
 * A new directory `<prefix>p<pid>-XXXXXX` in the temp directory; prefix: `handoff-<kind>-` (the first call of a
 * process sweeps first).
 */
export function makeTempDir(prefix: string): string {
  if (!swept) {
    swept = true
    sweepStaleTempDirs()
  }
  return mkdtempSync(join(tmpdir(), `${prefix}p${process.pid}-`))
}

/** Removes the directories left behind in `dir` (see the header); returns their names. Never throws. */
export function sweepStaleTempDirs(dir = tmpdir(), now = Date.now()): string[] {
  const removed: string[] = []
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return removed
  }
  for (const name of names) {
    const m = NAME.exec(name)
    if (m === null) continue
    const pid = Number(m[1])
    if (pid === process.pid || alive(pid)) continue
    const path = join(dir, name)
    try {
      if (now - lastChange(path) < STALE_MS) continue
      rmSync(path, {recursive: true, force: true})
      removed.push(name)
    } catch {
      // Gone already, or not ours to remove: left as it is.
    }
  }
  return removed
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

/** The latest modification time of the directory and the files in it (ms). */
function lastChange(path: string): number {
  let t = statSync(path).mtimeMs
  for (const f of readdirSync(path)) t = Math.max(t, statSync(join(path, f)).mtimeMs)
  return t
}
