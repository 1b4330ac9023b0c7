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
// An EXISTS announcement leads to a recent sync; an EXPUNGE or a flag
// change (an unsolicited FETCH) leads to a full sync. go-imap v2 sets no
// read deadline while it waits for a response, so every command runs
// under a deadline that closes the connection when it passes, and the
// restart interval checks a silent connection with NOOP.
//
// A rejected login is not a network failure: the account is marked
// auth_failed in the database and retried on a long interval, while other
// errors back off exponentially with jitter up to a cap. A server that
// closes a healthy connection during IDLE is reconnected at once. The
// unilateral data handlers run on go-imap's reader goroutine, so they only
// signal the watcher's loop, which issues every command itself.
//
// A Poller serves an account's folders that have no watcher: it checks
// them with STATUS on one connection and syncs those that changed, and it
// runs requested syncs and folder listings of any folder without a
// watcher. With nothing to poll it connects only while it has requests.
package idle
