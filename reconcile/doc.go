// Package reconcile brings the store in line with the IMAP server.
//
// A recent sync fetches the messages above the folder's highest stored
// UID and commits them in batches, each batch together with the new
// highest UID, so a crash resumes after the last committed batch and a
// repeated batch stores nothing twice.
package reconcile
