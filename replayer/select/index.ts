// Which handed-off connections a replay is about, and the packets of their
// other legs (design notes: selection and leg derivation for the replayer).
export {scanControl, type ControlHandoff, type ControlScan, type TimedMessage} from './control.js'
export {canonicalAddr, flowMatches, fmtEp, parseFlow, selectHandoffs, SelectError, type Endpoint, type FlowSpec, type Selection, type SelectionResult} from './select.js'
export {deriveLegs, DeriveError, describeConnection, LEG_DESCRIPTION, LEG_LABEL, LEGS, type DerivedPacket, type DeriveResult, type HandoffLegs, type LegName, type SkippedPacket} from './legs.js'
