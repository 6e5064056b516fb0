// One module per check id of spec §5. The per-connection checks run in this
// order on each handoff (seq-remap before stream-gap: stream-gap leaves to
// seq-remap what a misplaced segment explains).
import * as addrRewrite from './addr-rewrite.js'
import * as ackRemap from './ack-remap.js'
import * as ipChecksum from './ip-checksum.js'
import * as isnMismatch from './isn-mismatch.js'
import * as lateForward from './late-forward.js'
import * as optionMismatch from './option-mismatch.js'
import * as requestReplay from './request-replay.js'
import * as rstLeak from './rst-leak.js'
import * as sackRemap from './sack-remap.js'
import * as seqRemap from './seq-remap.js'
import * as streamGap from './stream-gap.js'
import * as synackLeak from './synack-leak.js'
import * as tcpChecksum from './tcp-checksum.js'
import * as tsRemap from './ts-remap.js'
import * as windowRescale from './window-rescale.js'
import type {HandoffContext} from './context.js'

export {check as checkOrphans, checkOrphanMessages, checkUnanswered, cutConnections} from './handoff-orphan.js'
export {check as checkControlFraming} from './control-framing.js'
export {checkControl as checkControlIpChecksum} from './ip-checksum.js'
export {checkControl as checkControlTcpChecksum} from './tcp-checksum.js'
export * from './types.js'
export {addSkewSamples, buildContext, type HandoffContext, type Pair} from './context.js'

export const CONNECTION_CHECKS: readonly {id: string; check: (ctx: HandoffContext) => void}[] = [
  ipChecksum, tcpChecksum, addrRewrite, seqRemap, ackRemap, sackRemap, tsRemap, windowRescale, rstLeak, synackLeak,
  isnMismatch, requestReplay, streamGap, optionMismatch, lateForward,
]
