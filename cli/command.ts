// The base of every `handoff` command: oclif's Command, with errors under
// --json handled as without it.
//
// Why: with --json, oclif's Command.catch prints the error object as JSON and
// sets the exit status from `err.exitCode ?? 1`. Its own parse errors (an
// unknown flag, a missing argument, a value outside `options`) and
// `this.error(msg, {exit: 2})` carry their status in `err.oclif.exit`, so a
// usage error under --json exited 1 — the status that means "violations" for
// `check` — and printed oclif's whole parser state as the "error".
//
// Also: a command that writes temporary files (check's and sessions' spools,
// a copy of standard input) removes them on process exit; a signal's default
// action kills the process without that event, leaving them in the temp
// directory (hundreds of MB on a long trace). exitOnSignals makes Ctrl-C and
// SIGTERM an exit (status 130 / 143) instead.
import {Command} from '@oclif/core'

/** The exit status an error asks for: oclif's `oclif.exit`, else `exitCode`, else 1. */
export function exitStatusOf(err: unknown): number {
  const e = err as {oclif?: {exit?: unknown}; exitCode?: unknown} | null
  if (typeof e?.oclif?.exit === 'number') return e.oclif.exit
  if (typeof e?.exitCode === 'number') return e.exitCode
  return 1
}

export abstract class HandoffCommand extends Command {
  /** Ctrl-C and SIGTERM end the process through process.exit (130, 143), so that its exit hooks run. Not for
   *  commands with a graceful stop of their own on those signals (capture, replay). */
  protected exitOnSignals(): void {
    process.once('SIGINT', () => process.exit(130))
    process.once('SIGTERM', () => process.exit(143))
  }

  protected override async catch(err: Error & {exitCode?: number}): Promise<unknown> {
    if (!this.jsonEnabled()) return super.catch(err)
    const status = exitStatusOf(err)
    process.exitCode = status
    // this.exit(n): the command has said what it had to; only the status is left to set.
    if ((err as {code?: unknown}).code === 'EEXIT') return undefined
    // The error alone: what went wrong and the exit status (oclif's parser state is no use to a reader of the JSON).
    this.logJson({error: {message: err.message, exit: status}})
    // Also where a person running the command looks for it, as the plain-text mode prints it.
    process.stderr.write(`${this.config.bin} ${this.id ?? ''}: ${err.message}\n`.replace(/ : /, ': '))
    return undefined
  }
}
