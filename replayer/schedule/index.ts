// Replay timing (design notes: replayer/schedule): the schedule math
// (schedule.ts, pure) and the pacer that runs it against a clock (pacer.ts).
export {buildSchedule, gapErrors, percentile, ScheduleError, type GapErrorStats, type Schedule, type ScheduleOptions, type TimingMode} from './schedule.js'
export {pace, systemClock, type PaceOptions, type PaceResult, type PacerClock} from './pacer.js'
