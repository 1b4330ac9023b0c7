// Package outbox sends the rows of email_outbox over SMTP.
//
// A row moves through these states; every arrow out of sending is a
// compare-and-set on the claim (claimed_by and attempts), so a worker whose
// lease expired cannot overwrite what another worker decided:
//
//	           claim (FOR UPDATE SKIP LOCKED, lease)
//	queued ------------------------------------------> sending
//	  ^                                                 |  |  |
//	  |   4xx reply or network error, before max age    |  |  |
//	  +-------------------------------------------------+  |  |
//	  |   lease expired (reclaimed by the next sweep)      |  |
//	  +----------------------------------------------------+  |
//	                                                          |
//	sent   <--- 2xx reply after the final dot ---------------+
//	failed <--- 5xx reply, bad row, or max age reached ------+
//
// The claim commits before any SMTP traffic. Delivery is at least once: a
// reactor that dies after the server accepted a message but before the row
// was marked sent leaves a lease that expires, and the row is sent again.
package outbox
