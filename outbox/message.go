package outbox

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// prepared is a row's message as it goes on the wire.
type prepared struct {
	// data is the message with any Bcc header removed.
	data       []byte
	recipients []string
}

// prepare reads the envelope recipients (rcptTo, or the To, Cc and Bcc
// headers when rcptTo is nil) and removes the Bcc header, which must never
// reach the recipients.
func prepare(raw []byte, rcptTo []string) (prepared, error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	header, err := textproto.ReadHeader(br)
	if err != nil {
		return prepared{}, fmt.Errorf("read message header: %w", err)
	}

	recipients := rcptTo
	if recipients == nil {
		mh := mail.Header{Header: message.Header{Header: header}}
		for _, key := range []string{"To", "Cc", "Bcc"} {
			list, err := mh.AddressList(key)
			if err != nil {
				return prepared{}, fmt.Errorf("parse %s header: %w", key, err)
			}
			for _, a := range list {
				recipients = append(recipients, a.Address)
			}
		}
	}
	if len(recipients) == 0 {
		return prepared{}, fmt.Errorf("no recipients: set rcpt_to or a To, Cc or Bcc header")
	}

	if !header.Has("Bcc") {
		return prepared{data: raw, recipients: recipients}, nil
	}
	header.Del("Bcc")
	var out bytes.Buffer
	out.Grow(len(raw))
	if err := textproto.WriteHeader(&out, header); err != nil {
		return prepared{}, fmt.Errorf("write message header: %w", err)
	}
	if _, err := io.Copy(&out, br); err != nil {
		return prepared{}, fmt.Errorf("copy message body: %w", err)
	}
	return prepared{data: out.Bytes(), recipients: recipients}, nil
}
