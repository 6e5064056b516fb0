// Standard input for `sessions` and `check`: copied to a temporary file first, then read
// like any other trace.
//
// Why a spool and not one pass (both read their traces more than once: the
// control channel first): the rows need the control channel, and the
// control messages that decide a session's kind may come after the session
// itself has ended at some vantage point (a handoff-ack after the FE inside
// view's connection was reset; a hello, which names a node's address, after
// a local connection; the control view in another file given after `-`).
// One pass would have to hold every finished row until its control messages
// could no longer come, a guess by time that fails with a late control view
// or a slow BE. The spool keeps memory as it is for files (live connections,
// the rows) and moves the trace to disk: disk use is the trace's size, freed
// when the command ends. The spool is written as the bytes come, so the
// memory used by this copy is one stream buffer.
import {createWriteStream, rmSync} from 'node:fs'
import {join} from 'node:path'
import {pipeline} from 'node:stream/promises'
import type {Readable} from 'node:stream'
import {makeTempDir} from '../temp-dir.js'

/** Standard input could not be copied (disk full, a read error). */
export class SpoolError extends Error {}

export interface Spool {
  /** The file holding what standard input carried. */
  path: string
  bytes: number
  remove(): void
}

export async function spoolStream(input: Readable): Promise<Spool> {
  const dir = makeTempDir('handoff-stdin-')
  const path = join(dir, 'stdin.capture')
  // Also on an early process.exit (an oclif error exit), and on Ctrl-C / SIGTERM in check and sessions (they make
  // those an exit: cli/command.ts exitOnSignals); one a SIGKILL or a crash leaves goes at the next run (temp-dir.ts).
  const onExit = () => rmSync(dir, {recursive: true, force: true})
  process.once('exit', onExit)
  const remove = () => {
    process.off('exit', onExit)
    onExit()
  }
  let bytes = 0
  input.on('data', (c: Buffer) => { bytes += c.length })
  try {
    await pipeline(input, createWriteStream(path))
  } catch (e) {
    remove()
    throw new SpoolError(`cannot copy standard input to ${dir}: ${(e as Error).message}`)
  }
  return {path, bytes, remove}
}
