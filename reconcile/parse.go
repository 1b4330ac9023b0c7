package reconcile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode ISO-8859-2, windows-1250 and the rest
	"github.com/emersion/go-message/mail"

	"github.com/mailreactor/mailreactor/store"
)

// parseInto fills the header fields of m from m.Raw. Whatever cannot be
// parsed is noted in m.ParseError; the raw bytes are stored either way.
func parseInto(m *store.Message) {
	var problems []string
	note := func(what string, err error) {
		problems = append(problems, fmt.Sprintf("%s: %v", what, err))
	}

	// message.Read keeps the entity for an unknown charset or transfer
	// encoding, so the header is still read; mail.CreateReader would drop
	// it for an unknown transfer encoding (go-message v0.18.2).
	entity, err := message.Read(bytes.NewReader(m.Raw))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		m.ParseError = clean("parse message: " + err.Error())
		return
	}
	if err != nil {
		note("parse message", err)
	}
	reader := mail.NewReader(entity)
	header := reader.Header

	if id, err := header.MessageID(); err != nil {
		note("Message-ID", err)
	} else {
		m.MessageID = clean(id)
	}

	subject, err := header.Subject()
	if err != nil {
		note("Subject", err)
		subject = header.Get("Subject")
	}
	m.Subject = clean(subject)
	m.From = addressList(&header, "From", note)
	m.To = addressList(&header, "To", note)
	m.Cc = addressList(&header, "Cc", note)

	if strings.TrimSpace(header.Get("Date")) != "" {
		if date, err := header.Date(); err != nil {
			note("Date", err)
		} else if !date.IsZero() {
			m.Date = &date
		}
	}

	if err := readParts(reader); err != nil {
		note("body", err)
	}
	m.ParseError = clean(strings.Join(problems, "; "))
}

// readParts reads every part to the end, so a broken MIME structure or
// transfer encoding is noticed when the message arrives.
func readParts(reader *mail.Reader) error {
	defer reader.Close()
	for {
		part, err := reader.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, part.Body); err != nil {
			return err
		}
	}
}

func addressList(header *mail.Header, key string, note func(string, error)) string {
	if !header.Has(key) {
		return ""
	}
	list, err := header.AddressList(key)
	if err != nil {
		note(key, err)
		return clean(header.Get(key))
	}
	parts := make([]string, len(list))
	for i, a := range list {
		// a.String would encode the name again; the store keeps it readable.
		parts[i] = a.Address
		if a.Name != "" {
			parts[i] = fmt.Sprintf("%s <%s>", a.Name, a.Address)
		}
	}
	return clean(strings.Join(parts, ", "))
}

// clean makes s storable in a Postgres text column, which rejects NUL
// bytes and invalid UTF-8.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "")
}
