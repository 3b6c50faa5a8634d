// Package timer is the Timer service: one-shot alarms and periodic timers
// whose ticks arrive as events in the requester's own queue.
//
// # Requests
//
// SetAlarm, ResetAlarm, SetTimer, StopAlarm and StopTimer (package
// timerpb). A timer is keyed by the requester's route, its id and its data
// bytes; the cookie is returned untouched and is not part of the key.
// Delays are seconds, fractions allowed. A delay that is negative, NaN or
// infinite, a period below Timer.minPeriod, a request with no route, or a
// request past Timer.maxTimers fails with an error event to the requester.
//
// Keys need not be unique: a second SetAlarm (or SetTimer) with the key of
// one still pending arms a second alarm beside it, and both tick. To move
// an alarm, send ResetAlarm, which cancels every alarm of its key and arms
// one anew. StopAlarm and StopTimer cancel every alarm, or every timer, of
// their key (an alarm and a timer of the same key are independent). They
// send no answer.
//
// List asks for the pending alarms and timers, earliest deadline first:
// the Timer answers from its own state with a ListReply of at most
// List.limit entries (default 100, at most 1000) and the total count. It
// is an ordinary request, so, like any other, it starts the Timer if it is
// not running yet (an empty Timer answers with no entries). The Telnet
// console's timers command sends it.
//
// # Ticks
//
// TickAlarm and TickTimer are replies to the request that armed them
// (Context.ReplyTo on the stored request): they travel back along its route,
// so a requester in the same node, in a plugin or on another node gets them
// in its queue the same way. A periodic timer's n-th deadline is its first
// plus n-1 periods, so it does not drift; if the Timer falls more than a
// period behind, it skips the deadlines it missed and reports how many in
// TickTimer.missed. A periodic timer whose requester can no longer be
// reached (the endpoint, node link or plugin its route leads to is gone) is
// stopped at its next tick, and logged, rather than tick into nothing
// forever; a tick refused by a full queue is dropped and counted, and the
// timer goes on.
//
// # Design
//
// All state lives on the Timer's goroutine: a 4-ary min-heap of deadlines,
// and an index from key hash to entries for Stop and Reset. Entries live in
// a slab of fixed-size chunks and are addressed by uint32 slot: heap slots,
// hash chains and the hash map hold slots, not pointers, so the garbage
// collector scans a few large chunks instead of marking one object per
// pending alarm (with 1,000,000 pending, a collection takes about 20ms
// rather than 110ms, and ticks due during it are no longer late by it).
// Routes are interned once per requester. Cancellation marks entries dead
// and leaves their heap slots as tombstones, which are dropped when they
// reach the top or, once they are more than half of the heap, by
// compaction; a slot is reused once its heap slot is gone, and the slab is
// given back when nothing is pending. A pending alarm costs about 150 bytes
// of heap (BenchmarkPendingAlarms).
//
// One clock goroutine, owned by the service, sleeps on a single reused
// time.Timer until the earliest deadline and posts a Wake to the Timer's own
// queue; the Timer then fires every due entry in one batch (at most
// Timer.fireBatch, then it lets queued requests in) and re-arms the clock.
// There is never a goroutine or a time.Timer per timer.
//
// Time is the node clock (Context.Now): deadlines are service time, measured
// from the Timer's start, and ticks report them as Unix nanoseconds.
//
// # Config
//
//	Timer.maxTimers   pending alarms and timers at most (default 10000000)
//	Timer.minPeriod   shortest period SetTimer accepts (default 1ms)
//	Timer.fireBatch   ticks per wake-up before queued requests get a turn (default 10000)
package timer
