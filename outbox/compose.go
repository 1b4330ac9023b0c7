package outbox

import (
	"bytes"
	"fmt"
	"io"
	"mime"

	"github.com/emersion/go-message/mail"

	"github.com/mailreactor/mailreactor/store"
)

// compose builds the MIME message of a row whose raw is empty: headers in
// RFC 2047 where they are not ASCII, text parts in quoted-printable UTF-8,
// multipart/alternative for text with HTML, and multipart/mixed with base64
// attachments. The Date is the row's created_at, so every attempt sends the
// same header. The result keeps the Bcc header for the Sent copy; prepare
// removes it from what goes on the wire.
func compose(row store.OutboxRow, accountAddress, messageID string, attachments []store.OutboxAttachment) ([]byte, error) {
	h, err := composeHeader(row, accountAddress, messageID)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if len(attachments) == 0 {
		err = writeText(&buf, h, row)
	} else {
		err = writeMixed(&buf, h, row, attachments)
	}
	if err != nil {
		return nil, fmt.Errorf("compose message: %w", err)
	}
	return buf.Bytes(), nil
}

func composeHeader(row store.OutboxRow, accountAddress, messageID string) (mail.Header, error) {
	var h mail.Header
	from := row.From
	if from == "" {
		from = accountAddress
	}
	fromAddr, err := mail.ParseAddress(from)
	if err != nil {
		return h, fmt.Errorf("parse from_addr %q: %w", from, err)
	}
	lists := make(map[string][]*mail.Address)
	for _, field := range []struct {
		key, column string
		list        []string
	}{{"To", "to_addrs", row.To}, {"Cc", "cc_addrs", row.Cc}, {"Bcc", "bcc_addrs", row.Bcc}} {
		for _, s := range field.list {
			a, err := mail.ParseAddress(s)
			if err != nil {
				return h, fmt.Errorf("parse %s entry %q: %w", field.column, s, err)
			}
			lists[field.key] = append(lists[field.key], a)
		}
	}
	// go-message writes the fields last set first, so they are set from
	// the bottom up to read From, To, Cc, Bcc, Subject, Date, Message-ID.
	h.SetMessageID(messageID)
	h.SetDate(row.CreatedAt)
	if row.Subject != "" {
		h.SetSubject(row.Subject)
	}
	for _, key := range []string{"Bcc", "Cc", "To"} {
		h.SetAddressList(key, lists[key])
	}
	h.SetAddressList("From", []*mail.Address{fromAddr})
	return h, nil
}

// writeText writes a message without attachments: one text part, or
// multipart/alternative when the row has both text and HTML.
func writeText(w io.Writer, h mail.Header, row store.OutboxRow) error {
	if row.BodyText != nil && row.BodyHTML != nil {
		iw, err := mail.CreateInlineWriter(w, h)
		if err != nil {
			return err
		}
		if err := writeAlternatives(iw, row); err != nil {
			return err
		}
		return iw.Close()
	}
	mediaType, body := singleBody(row)
	h.SetContentType(mediaType, map[string]string{"charset": "utf-8"})
	pw, err := mail.CreateSingleInlineWriter(w, h)
	if err != nil {
		return err
	}
	return writeClose(pw, []byte(body))
}

// writeMixed writes the text as the first part of multipart/mixed and the
// attachments after it.
func writeMixed(w io.Writer, h mail.Header, row store.OutboxRow, attachments []store.OutboxAttachment) error {
	mw, err := mail.CreateWriter(w, h)
	if err != nil {
		return err
	}
	if row.BodyText != nil && row.BodyHTML != nil {
		iw, err := mw.CreateInline()
		if err != nil {
			return err
		}
		if err := writeAlternatives(iw, row); err != nil {
			return err
		}
		if err := iw.Close(); err != nil {
			return err
		}
	} else {
		mediaType, body := singleBody(row)
		var ih mail.InlineHeader
		ih.SetContentType(mediaType, map[string]string{"charset": "utf-8"})
		pw, err := mw.CreateSingleInline(ih)
		if err != nil {
			return err
		}
		if err := writeClose(pw, []byte(body)); err != nil {
			return err
		}
	}
	for _, a := range attachments {
		aw, err := mw.CreateAttachment(attachmentHeader(a))
		if err != nil {
			return fmt.Errorf("attachment %q: %w", a.Filename, err)
		}
		if err := writeClose(aw, a.Data); err != nil {
			return fmt.Errorf("attachment %q: %w", a.Filename, err)
		}
	}
	return mw.Close()
}

func writeAlternatives(iw *mail.InlineWriter, row store.OutboxRow) error {
	for _, part := range []struct{ mediaType, body string }{
		{"text/plain", *row.BodyText}, {"text/html", *row.BodyHTML},
	} {
		var ih mail.InlineHeader
		ih.SetContentType(part.mediaType, map[string]string{"charset": "utf-8"})
		pw, err := iw.CreatePart(ih)
		if err != nil {
			return err
		}
		if err := writeClose(pw, []byte(part.body)); err != nil {
			return err
		}
	}
	return nil
}

// singleBody returns the one text part of a row that lacks text or HTML;
// a row with neither gets an empty text/plain part.
func singleBody(row store.OutboxRow) (mediaType, body string) {
	switch {
	case row.BodyText != nil:
		return "text/plain", *row.BodyText
	case row.BodyHTML != nil:
		return "text/html", *row.BodyHTML
	}
	return "text/plain", ""
}

// attachmentHeader names the file twice: RFC 2231 in Content-Disposition,
// which current clients read, and RFC 2047 in the Content-Type name
// parameter for older ones. A content type that does not parse becomes
// application/octet-stream.
func attachmentHeader(a store.OutboxAttachment) mail.AttachmentHeader {
	mediaType, params, err := mime.ParseMediaType(a.ContentType)
	if err != nil || a.ContentType == "" {
		mediaType, params = "application/octet-stream", map[string]string{}
	}
	params["name"] = a.Filename
	var h mail.AttachmentHeader
	h.SetContentType(mediaType, params)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename}))
	return h
}

func writeClose(w io.WriteCloser, data []byte) error {
	if _, err := w.Write(data); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
