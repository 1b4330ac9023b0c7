// Package reactor is the engine: it takes events from the IDLE watchers,
// the Postgres listener and the scheduler, turns them into work, and owns
// the lifecycle of everything it starts.
//
//	LISTEN email_outbox ──┐
//	fallback timer ───────┼─> coalesced outbox sweep ─> worker pool (all workers)
//	reconnect backlog ────┘
//
//	scheduler (due sweeps) ─┐                   ┌─> watcher of the folder (its connection)
//	LISTEN email_presence ──┼─> requestSync ────┤
//	LISTEN email_sync ──────┘                   └─> account's poller (shared connection)
//
//	LISTEN email_accounts ─> restart the account's watchers and poller
//
// Sends run as tasks on the worker pool: every outbox notification, a bare
// NOTIFY, a listener reconnect and the fallback timer submit the same
// coalesced sweep, so a burst of notifications costs a few sweeps, and a
// sweep that claims a full batch submits the next one, so sends spread
// over the workers.
//
// Syncs run on the IMAP connection that owns the folder: its watcher, or
// the account's poller for folders without one, so a sync never opens a
// connection past the account's cap. Requests to one connection coalesce
// in its small queue. Every sync holds one of the pool's sync slots, which
// leave REACTOR_RESERVED_SEND_WORKERS of the workers to sending, so the
// outbox never waits behind a large first sync.
//
// NOTE: a sync is not a pool task, so the queue limit
// (BG_MAX_THREADS x BG_MAX_TASKS_PER_THREAD) bounds only the sends; syncs
// are bounded by one queue per connection instead.
package reactor
