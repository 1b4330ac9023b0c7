package outbox

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/mailreactor/mailreactor/store"
)

// outgoing is a row's message as one attempt sends and files it.
type outgoing struct {
	prepared
	// copy is the message for the Sent folder: data with the Bcc header,
	// when there was one.
	copy []byte
	// messageID is the Message-ID without angle brackets.
	messageID string
	// recordID is set when messageID, taken from raw's own header, is not
	// the row's message_id.
	recordID bool
}

// buildMessage composes a row without raw, or completes a raw row's header
// with the Message-ID, Date and From it lacks, and prepares the result. The
// Message-ID is raw's own, else the row's message_id, which the claim
// stored before the first attempt. attachments are the row's, used when it
// is composed.
func buildMessage(row store.OutboxRow, accountAddress string, attachments []store.OutboxAttachment) (outgoing, error) {
	var out outgoing
	full := row.Raw
	if len(row.Raw) == 0 {
		if row.To == nil && row.Cc == nil && row.Bcc == nil && row.RcptTo == nil {
			return out, fmt.Errorf("raw is empty and the row has no recipients: set raw, or to_addrs, cc_addrs or bcc_addrs")
		}
		out.messageID = row.MessageID
		if out.messageID == "" {
			// The claim stores one; only a row read some other way lacks it.
			out.messageID, out.recordID = newMessageID(accountAddress), true
		}
		var err error
		if full, err = compose(row, accountAddress, out.messageID, attachments); err != nil {
			return out, err
		}
	} else {
		var err error
		full, out.messageID, err = completeHeader(row.Raw, row.MessageID, row.CreatedAt, accountAddress)
		if err != nil {
			return out, err
		}
		out.recordID = out.messageID != row.MessageID
	}
	p, err := prepare(full, row.RcptTo)
	if err != nil {
		return out, err
	}
	out.prepared, out.copy = p, full
	return out, nil
}

// completeHeader returns raw with a Message-ID, a Date and a From field
// added at the top when its header lacks them, and the Message-ID without
// angle brackets. The added Message-ID is storedID, or a new one when
// storedID is empty; the added Date is date and the added From the
// account's address. Nothing else of raw changes.
func completeHeader(raw []byte, storedID string, date time.Time, accountAddress string) ([]byte, string, error) {
	header, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, "", fmt.Errorf("read message header: %w", err)
	}
	mh := mail.Header{Header: message.Header{Header: header}}
	eol := "\r\n"
	if i := bytes.IndexByte(raw, '\n'); i > 0 && raw[i-1] != '\r' {
		eol = "\n"
	}
	var added strings.Builder
	messageID := headerMessageID(mh)
	if messageID == "" {
		messageID = storedID
		if messageID == "" {
			messageID = newMessageID(accountAddress)
		}
		added.WriteString("Message-ID: <" + messageID + ">" + eol)
	}
	if !header.Has("Date") {
		added.WriteString("Date: " + date.Format(time.RFC1123Z) + eol)
	}
	// RFC 5322 requires a From field; without one, the Sent copy would
	// have none, and servers add their own guess at best.
	if !header.Has("From") {
		added.WriteString("From: " + accountAddress + eol)
	}
	if added.Len() == 0 {
		return raw, messageID, nil
	}
	out := make([]byte, 0, added.Len()+len(raw))
	out = append(out, added.String()...)
	return append(out, raw...), messageID, nil
}

// headerMessageID returns the Message-ID of a header without angle
// brackets, or the field's trimmed text when it does not parse.
func headerMessageID(h mail.Header) string {
	if id, err := h.MessageID(); err == nil && id != "" {
		return id
	}
	return strings.Trim(strings.TrimSpace(h.Get("Message-Id")), "<>")
}

// newMessageID returns a unique Message-ID, without angle brackets, in the
// domain of address.
func newMessageID(address string) string {
	domain := "mailreactor.invalid"
	if i := strings.LastIndexByte(address, '@'); i >= 0 && i < len(address)-1 {
		domain = strings.Trim(address[i+1:], "<> ")
	}
	random := make([]byte, 8)
	rand.Read(random)
	return strconv.FormatInt(time.Now().UnixNano(), 36) + "." + hex.EncodeToString(random) + "@" + domain
}
