// Replay outputs (design notes: replayer/sinks): a capture file (file.ts) or
// one live interface (live.ts).
export {CAPTURED_INTERFACE, checkWritten, formatForPath, LEG_INTERFACE, SinkError, writeLegs, type FileFormat, type FileSinkResult} from './file.js'
export {LiveSink, type Injector, type LiveFrame, type LiveReport, type LiveRunOptions} from './live.js'
