// One chalk instance for the whole CLI. chalk 5 does not honour NO_COLOR by
// itself, and colour codes in a pipe or a file are noise: colour only when
// stdout is a terminal and NO_COLOR is unset (FORCE_COLOR still wins).
import {Chalk, type ChalkInstance} from 'chalk'

function level(): 0 | 1 | 2 | 3 {
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return 1
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return 0
  return process.stdout.isTTY ? 1 : 0
}

export const color: ChalkInstance = new Chalk({level: level()})
