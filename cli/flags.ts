// Flags shared by several commands, defined once so their meaning stays the same everywhere.
import {Flags} from '@oclif/core'
import {CONTROL_PORT} from '../analyzer/control/messages.js'

/** No default on purpose: when it is not given, the port is 7070 unless the traces carry the control frames on another port. */
export const controlPortFlag = Flags.integer({
  summary: `TCP port of the control channel (default: ${CONTROL_PORT}, or the port the traces carry control frames on when ${CONTROL_PORT} has none).`,
  min: 1, max: 65535,
})
