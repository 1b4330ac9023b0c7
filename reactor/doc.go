// Package reactor is the engine: it takes events from the IDLE watchers
// and the Postgres listener, turns them into tasks on a bounded,
// coalescing worker pool, and owns the lifecycle of everything it starts.
//
// Events flow one way. Watchers sync their own folder on their own
// connection, holding one of the pool's sync slots while they do. The
// listener only submits tasks: an outbox notification, a bare NOTIFY, a
// reconnect and the fallback timer all submit the same coalesced outbox
// sweep, so a burst of notifications costs a few sweeps. An account
// notification restarts that account's watcher with its new settings.
package reactor
