// Stateful live replay (`handoff replay --live`): see run.ts for the design.
export {compareResponses, maskHeaders, type CompareResult} from './compare.js'
export {LiveConnection, type ConnOptions, type ConnPhase, type ConnStats, type LiveParams} from './connection.js'
export {answerFor, arpReply, arpRequest, neighborAdvertisement, neighborSolicitation, parseNeighbor, type NeighborMessage} from './neighbor.js'
export {replayStateful, StatefulReplayError, type ConnReport, type FrameIO, type StatefulInput, type StatefulOutcome} from './run.js'
export {assemble, buildScripts, clientGap, type ConnScript, type ScriptSegment} from './script.js'
