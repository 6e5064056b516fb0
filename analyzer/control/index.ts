// The control-channel codec (spec §3): message types and validation, frame
// encoding, and the streaming frame decoder.
export * from './messages.js'
export * from './codec.js'
export * from './decoder.js'
export {MsgpackReader, MsgpackFloat, MAX_DEPTH, type ReadReason, type ReadError} from './msgpack.js'
export {checkAddress, isIPv4, isMac, parseIPv6, formatIPv6} from './addr.js'
