package outbox_test

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-message/mail"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// composedRow is a row without raw, in Polish, with text, HTML and two
// attachments.
type composedRow struct {
	from, subject, text, html string
	to, cc, bcc               []string
	files                     []composedFile
}

type composedFile struct {
	name, contentType string
	data              []byte
}

var polishRow = composedRow{
	from:    "Łukasz Żółkiewski <office@example.test>",
	subject: "Zamówienie nr 42 – żółć i gęślą jaźń, proszę o potwierdzenie do piątku",
	text:    "Dzień dobry,\nw załączniku faktura.\n.kropka na początku wiersza\nŁukasz\n",
	html:    "<p>Dzień dobry,</p><p>w załączniku <b>faktura</b>.</p>",
	to:      []string{"Anna Wiśniewska <anna@example.test>", "piotr@example.test"},
	cc:      []string{"\"Nowak, Zofia\" <zofia@example.test>"},
	bcc:     []string{"Ukryty Świadek <archiwum@example.test>"},
	files: []composedFile{
		{"Faktura żółta 2024/12.pdf", "application/pdf", append([]byte("%PDF-1.4\n\x00\xff\xfe"), bytes.Repeat([]byte{0, 1, 2, 250}, 5000)...)},
		{"notatka.txt", "", []byte("Zażółć gęślą jaźń\r\n")},
	},
}

func queueComposed(t *testing.T, db testenv.DB, account int64, r composedRow) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := db.Store.Pool().QueryRow(ctx, `
		INSERT INTO email_outbox (acntid, from_addr, to_addrs, cc_addrs, bcc_addrs, subject, body_text, body_html)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		account, r.from, r.to, r.cc, r.bcc, r.subject, r.text, r.html).Scan(&id)
	if err != nil {
		t.Fatalf("insert composed row: %v", err)
	}
	for _, f := range r.files {
		db.Exec(t, "INSERT INTO email_outbox_attachments (outbox_id, filename, content_type, data) VALUES ($1, $2, $3, $4)",
			id, f.name, f.contentType, f.data)
	}
	return id
}

// parsedMessage is what a client shows of a received message.
type parsedMessage struct {
	header    mail.Header
	text      string
	html      string
	files     []composedFile
	mediaType string
	// textParts describes each text part: "type; charset=...; encoding".
	textParts []string
}

func parseReceived(t *testing.T, data []byte) parsedMessage {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse received message: %v\n%s", err, data)
	}
	p := parsedMessage{header: r.Header}
	p.mediaType, _, _ = r.Header.ContentType()
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		body, err := io.ReadAll(part.Body)
		if err != nil {
			t.Fatalf("read part body: %v", err)
		}
		switch h := part.Header.(type) {
		case *mail.InlineHeader:
			mediaType, params, _ := h.ContentType()
			p.textParts = append(p.textParts, mediaType+"; charset="+params["charset"]+"; "+h.Get("Content-Transfer-Encoding"))
			if mediaType == "text/html" {
				p.html = string(body)
			} else {
				p.text = string(body)
			}
		case *mail.AttachmentHeader:
			name, err := h.Filename()
			if err != nil {
				t.Errorf("attachment filename: %v", err)
			}
			if enc := h.Get("Content-Transfer-Encoding"); enc != "base64" {
				t.Errorf("attachment %q encoding %q, want base64", name, enc)
			}
			mediaType, _, _ := h.ContentType()
			p.files = append(p.files, composedFile{name: name, contentType: mediaType, data: body})
		}
	}
	return p
}

func addressList(t *testing.T, h mail.Header, key string) []string {
	t.Helper()
	list, err := h.AddressList(key)
	if err != nil {
		t.Fatalf("parse %s: %v", key, err)
	}
	var out []string
	for _, a := range list {
		out = append(out, a.String())
	}
	return out
}

func TestComposed(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	// The first attempt is rejected after the final dot, so the message is
	// composed twice.
	var retried atomic.Bool
	srv := startScripted(t, func(s stage, tx int, _ string) act {
		if s == atDot && !retried.Load() {
			return act{code: 451}
		}
		return act{}
	})
	account := sinkAccount(t, db, srv.addr)
	id := queueComposed(t, db, account, polishRow)
	sender := fastSender(t, db, "compose")
	sweepAll(t, sender)
	retried.Store(true)
	db.Exec(t, "UPDATE email_outbox SET next_attempt_at = now() WHERE id = $1", id)
	sweepAll(t, sender)

	row := readRow(t, db, id)
	if row.Status != "sent" || row.MessageID == nil {
		t.Fatalf("row: got status %s, message_id %s, want sent with a Message-ID (last_error %s)", row.Status, str(row.MessageID), str(row.LastError))
	}
	_, dots, accepted := srv.snapshot()
	if len(dots) != 2 || len(accepted) != 1 {
		t.Fatalf("server read %d messages and accepted %d, want 2 and 1", len(dots), len(accepted))
	}
	for i, d := range dots {
		p := parseReceived(t, d.data)
		if id, _ := p.header.MessageID(); id != *row.MessageID {
			t.Errorf("attempt %d: Message-ID %q, want the stored %q", i+1, id, *row.MessageID)
		}
	}
	got := accepted[0]
	wantRcpts := []string{"anna@example.test", "piotr@example.test", "zofia@example.test", "archiwum@example.test"}
	if !slices.Equal(got.rcpts, wantRcpts) || got.from != "office@example.test" {
		t.Errorf("envelope: got from %q to %q, want office@example.test to %q", got.from, got.rcpts, wantRcpts)
	}
	checkComposed(t, got.data, parseReceived(t, got.data))
}

func checkComposed(t *testing.T, data []byte, p parsedMessage) {
	t.Helper()
	if p.mediaType != "multipart/mixed" {
		t.Errorf("Content-Type %q, want multipart/mixed", p.mediaType)
	}
	wantParts := []string{"text/plain; charset=utf-8; quoted-printable", "text/html; charset=utf-8; quoted-printable"}
	if !slices.Equal(p.textParts, wantParts) {
		t.Errorf("text parts %q, want %q", p.textParts, wantParts)
	}
	if subject, err := p.header.Subject(); err != nil || subject != polishRow.subject {
		t.Errorf("Subject %q (%v), want %q", subject, err, polishRow.subject)
	}
	for _, raw := range []string{"Subject", "From", "To"} {
		if v := p.header.Get(raw); !isASCII(v) {
			t.Errorf("%s header is not ASCII on the wire: %q", raw, v)
		}
	}
	if from := addressList(t, p.header, "From"); len(from) != 1 || !strings.Contains(p.header.Get("From"), "=?utf-8?") {
		t.Errorf("From %q (raw %q), want one RFC 2047 encoded name", from, p.header.Get("From"))
	}
	if list, _ := p.header.AddressList("From"); len(list) == 1 && list[0].Name != "Łukasz Żółkiewski" {
		t.Errorf("From name %q, want Łukasz Żółkiewski", list[0].Name)
	}
	if to, _ := p.header.AddressList("To"); len(to) != 2 || to[0].Name != "Anna Wiśniewska" || to[1].Address != "piotr@example.test" {
		t.Errorf("To %q, want Anna Wiśniewska and piotr@example.test", addressList(t, p.header, "To"))
	}
	if cc, _ := p.header.AddressList("Cc"); len(cc) != 1 || cc[0].Name != "Nowak, Zofia" {
		t.Errorf("Cc %q, want \"Nowak, Zofia\"", addressList(t, p.header, "Cc"))
	}
	if p.header.Has("Bcc") || bytes.Contains(data, []byte("archiwum@")) {
		t.Errorf("the sent message shows the Bcc recipient:\n%s", data)
	}
	if date, err := p.header.Date(); err != nil || date.IsZero() {
		t.Errorf("Date %q: %v, want a date", p.header.Get("Date"), err)
	}

	if want := strings.ReplaceAll(polishRow.text, "\n", "\r\n"); p.text != want {
		t.Errorf("text part %q, want %q", p.text, want)
	}
	if p.html != polishRow.html {
		t.Errorf("HTML part %q, want %q", p.html, polishRow.html)
	}
	if len(p.files) != len(polishRow.files) {
		t.Fatalf("got %d attachments, want %d", len(p.files), len(polishRow.files))
	}
	for i, want := range polishRow.files {
		got := p.files[i]
		wantType := want.contentType
		if wantType == "" {
			wantType = "application/octet-stream"
		}
		if got.name != want.name || got.contentType != wantType || !bytes.Equal(got.data, want.data) {
			t.Errorf("attachment %d: got %q %s with %d bytes, want %q %s with the stored %d bytes",
				i, got.name, got.contentType, len(got.data), want.name, wantType, len(want.data))
		}
	}
	for _, line := range bytes.Split(data, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("line of %d bytes, over the SMTP limit of 998", len(line))
		}
	}
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// A raw message without Message-ID and Date gets both once; a retry sends
// the same.
func TestRawHeaderAdded(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	var retried atomic.Bool
	srv := startScripted(t, func(s stage, tx int, _ string) act {
		if s == atDot && !retried.Load() {
			return act{code: 451}
		}
		return act{}
	})
	account := sinkAccount(t, db, srv.addr)
	id := queueRaw(t, db, account, "one@example.test", "body")
	sender := fastSender(t, db, "raw")
	sweepAll(t, sender)
	retried.Store(true)
	db.Exec(t, "UPDATE email_outbox SET next_attempt_at = now() WHERE id = $1", id)
	sweepAll(t, sender)

	row := readRow(t, db, id)
	_, dots, _ := srv.snapshot()
	if row.Status != "sent" || len(dots) != 2 {
		t.Fatalf("got status %s and %d messages read, want sent and 2", row.Status, len(dots))
	}
	if !bytes.Equal(dots[0].data, dots[1].data) {
		t.Errorf("the retry sent other bytes:\nfirst  %q\nsecond %q", dots[0].data, dots[1].data)
	}
	p := parseReceived(t, dots[1].data)
	if got, _ := p.header.MessageID(); row.MessageID == nil || got != *row.MessageID {
		t.Errorf("Message-ID %q, want the stored %s", got, str(row.MessageID))
	}
	if date, err := p.header.Date(); err != nil || date.IsZero() {
		t.Errorf("Date %q: %v, want the row's creation time", p.header.Get("Date"), err)
	}
	if !bytes.HasSuffix(dots[1].data, []byte("From: office@example.test\r\nTo: one@example.test\r\nSubject: test\r\n\r\nbody\r\n")) {
		t.Errorf("the stored message changed beyond the added fields: %q", dots[1].data)
	}
}

// A raw message's own Message-ID is kept and stored on the row.
func TestRawMessageIDStored(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	srv := startScripted(t, func(stage, int, string) act { return act{} })
	account := sinkAccount(t, db, srv.addr)
	raw := "Message-ID: <own-1@example.test>\r\nDate: Tue, 03 Dec 2024 10:00:00 +0100\r\n" +
		"From: office@example.test\r\nTo: one@example.test\r\n\r\nbody\r\n"
	var id int64
	if err := db.Store.Pool().QueryRow(context.Background(),
		"INSERT INTO email_outbox (acntid, raw) VALUES ($1, $2) RETURNING id", account, []byte(raw)).Scan(&id); err != nil {
		t.Fatalf("insert: %v", err)
	}
	sweepAll(t, fastSender(t, db, "own"))
	if row := readRow(t, db, id); row.Status != "sent" || str(row.MessageID) != "own-1@example.test" {
		t.Errorf("got status %s, message_id %s, want sent with own-1@example.test", row.Status, str(row.MessageID))
	}
	if _, _, accepted := srv.snapshot(); len(accepted) != 1 || string(accepted[0].data) != raw {
		t.Errorf("want the message sent unchanged, got %d messages", len(accepted))
	}
}
