package outbox

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	netmail "net/mail"

	"github.com/emersion/go-message/textproto"
)

// addressParser reads only the addresses of a header. Display names are
// not needed for the envelope, so a name in a charset that cannot be
// decoded is passed through instead of failing the row.
var addressParser = &netmail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(_ string, input io.Reader) (io.Reader, error) { return input, nil },
}}

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
		for _, key := range []string{"To", "Cc", "Bcc"} {
			for _, value := range header.Values(key) {
				list, err := addressParser.ParseList(value)
				if err != nil {
					return prepared{}, fmt.Errorf("parse %s header %q: %w", key, value, err)
				}
				for _, a := range list {
					recipients = append(recipients, a.Address)
				}
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
