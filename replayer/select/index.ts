// Which handed-off connections a replay is about, and the packets of their
// other legs (design notes: selection and leg derivation for the replayer).
export {channelKey, scanControl, type ControlHandoff, type ControlScan, type TimedMessage} from './control.js'
export {canonicalAddr, flowMatches, fmtEp, parseFlow, selectHandoffs, SelectError, type Endpoint, type FlowSpec, type Selection, type SelectionResult} from './select.js'
export {CAPTURED_ROLES, deriveLegs, DeriveError, describeConnection, LEG_DESCRIPTION, LEG_LABEL, LEGS, type CapturedPacket, type CapturedRole, type DerivedPacket, type DeriveOptions, type DeriveResult, type HandoffLegs, type LegName, type SkippedPacket} from './legs.js'
