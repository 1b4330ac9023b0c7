// Package reconcile brings the store in line with the IMAP server. Every
// sync runs on a client that is logged in, with the folder's mailbox
// selected and not in IDLE.
//
// # Recent sync
//
// SyncRecent fetches the messages above the folder's highest stored UID
// (email_folders.last_uid) and skips any above it that are already
// stored. It is cheap and runs on every announcement of new mail.
//
// # Full sync
//
// SyncFull makes the folder equal to the mailbox. With CONDSTORE and a
// stored HIGHESTMODSEQ it fetches only the flags changed since then
// (UID FETCH 1:* (FLAGS) (CHANGEDSINCE n)). Otherwise it fetches every
// message's flags. Then it stores the new HIGHESTMODSEQ. For expunges and
// gaps it
// compares the server's UIDs with the stored ones. A stored message the
// server no longer has gets expunged_at (the row stays); a server message
// not stored is fetched, whatever last_uid says. A last_uid at or above
// the server's UIDNEXT is logged and replaced.
//
// # Storing at scale
//
// Bodies stream through three overlapping stages: the FETCH is read into
// batches bounded in count (Syncer.BatchSize) and bytes, a batch is parsed
// on a few workers, and two batches commit at once with COPY. A batch
// records last_uid only as far as every earlier batch has committed, so a
// crash at any point loses nothing and a repeated batch stores nothing
// twice. Memory stays bounded by a few batches, whatever the mailbox size.
//
// # UIDVALIDITY
//
// A UID means something only with its UIDVALIDITY. When the server's
// UIDVALIDITY differs from the stored one, both syncs first re-match: they
// read every message's UID, envelope, size and internal date (no body),
// and match the stored rows of the old UIDVALIDITY by Message-ID and size,
// with the same internal date, or failing that the same Date header, one
// to one. A matched row moves to the new UIDVALIDITY and UID in place and
// keeps its emsgid and body; an old row without a match is marked
// expunged; the server's messages that matched nothing are fetched. The
// move is one transaction and is logged as a warning with both values and
// the counts.
package reconcile
