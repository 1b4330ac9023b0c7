// Package idle keeps one IMAP connection per watched folder in IDLE and
// syncs the folder on that same connection whenever the server announces
// a change.
//
// A watcher moves through these states:
//
//	      +-----------+  error   +---------+
//	+---->|  connect  |--------->| backoff |<----------------+
//	|     | + login   |          +---------+                 |
//	|     +-----------+               |  delay over          |
//	|           | ok                  v                      |
//	|           v                 (connect)                  |
//	|     +-----------+                                      |
//	|     |  select   |--------------------------------------+ error
//	|     +-----------+                                      |
//	|           v                                            |
//	|     +-----------+  EXISTS / EXPUNGE / sync interval    |
//	|     |   sync    |<----------------------+              |
//	|     +-----------+                       |              |
//	|           v                             |              |
//	|     +-----------+  restart interval +---------+        |
//	|     |   idle    |------------------>| restart |--------+
//	|     +-----------+   (DONE, NOOP)    +---------+  error
//	|           | context cancelled
//	|           v
//	|       LOGOUT, exit
//
// A rejected login is not a network failure: the account is marked
// auth_failed in the database and retried on a long interval, while other
// errors back off exponentially with jitter up to a cap. The unilateral
// data handlers run on go-imap's reader goroutine, so they only signal the
// watcher's loop, which issues every command itself.
package idle
