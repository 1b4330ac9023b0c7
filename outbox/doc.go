// Package outbox sends the rows of email_outbox over SMTP and files a copy
// of each sent message in the account's Sent folder.
//
// A row moves through these states. Every arrow out of sending is a
// compare-and-set on the claim (claimed_by and attempts), so a worker whose
// lease expired cannot overwrite what another worker decided:
//
//	          claim: FOR UPDATE SKIP LOCKED, lease, message_id
//	   +-------------------------------------------------------+
//	   |                                                       v
//	queued <---------------------------------------------- sending
//	         (a) 4xx reply, or connection lost before        |   |
//	             the final dot                               |   |
//	         (b) connection lost after the final dot         |   |
//	         (c) lease expired: the next claim takes it      |   |
//	         (d) accepted for some recipients, 4xx for the   |   |
//	             others: rcpt_to becomes those, due at once  |   |
//	                                                         |   |
//	sent   <--- 2xx reply after the final dot ---------------+   |
//	failed <--- 5xx reply, bad row, or max age reached ----------+
//
// The claim commits before any SMTP traffic. It stores a Message-ID for a
// row that has none, so every attempt of a row sends the same Message-ID
// and Date, and raw messages that lack them get both added. Delivery
// is at least once: after (b), or after (c) when the reactor that held the
// lease died after the server accepted the message, the row is sent again.
// Both set possible_duplicate, and receivers can tell the copies apart by
// their common Message-ID. A batch that runs past half its lease renews it.
//
// The Sent copy has its own states in sent_copy_status. It starts when the
// server first accepts the message, runs on the same worker after the SMTP
// session of the batch has ended, and never sends the message again:
//
//	NULL --accepted, sent_copy on---> appending --APPEND done--> done
//	  |                                 |    ^
//	  |                   APPEND failed |    | due again (backoff of its own
//	  |                                 v    | attempts), or lease expired
//	  |                               pending --sent more than max age ago--> failed
//	  +----accepted, sent_copy off----> off
//
// Every network wait is bounded by Timeouts.
package outbox
