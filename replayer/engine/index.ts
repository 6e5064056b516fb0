// The rewrite engine (spec §4): translation state, the forward and return
// rewrites and their inverses, in place and allocation-free, with optional
// verification. See engine.ts for the entry point.
export {Engine, checkRewritable, type EngineOptions, type EngineOperation} from './engine.js'
export {EngineConfigError, MAX_WSCALE, TranslationState, type TranslationValues} from './state.js'
export {RewriteResult, type RewriteStatus, type TcpChecksumKind} from './result.js'
export {EngineVerifyError, RewriteVerifier, type VerifiedChecksum} from './verify.js'
export {rescaleClamps, rescaleWindow, unscaleExact, unscaleWindow} from './window.js'
export {applyForward, matchesForward} from './forward.js'
export {applyReturn, matchesReturn} from './return.js'
export {applyChecksumDeltas, classifyTcpChecksum, segmentComplete} from './checksum-update.js'
