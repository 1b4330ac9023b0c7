package mailgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	_ "github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// natural is the natural mix of seed 42, which several tests read.
var natural = sync.OnceValue(func() []Message { return generate(Options{Seed: 42}, 2000) })

func generate(opts Options, n int) []Message {
	g := New(opts)
	out := make([]Message, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

// TestMessagesDecode reads generated messages with go-message and compares
// what it decodes with what the generator meant.
func TestMessagesDecode(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		msgs func() []Message
	}{
		{name: "natural mix", msgs: natural},
		{name: "other seed", opts: Options{Seed: 1}},
		{name: "fixed addresses", opts: Options{Seed: 3, From: "Łukasz Żółkiewski <lukasz.zolkiewski@example.com>", To: "biuro@example.test"}},
		{name: "bare from", opts: Options{Seed: 4, From: "faktury@example.org"}},
		{name: "10 KB", opts: Options{Seed: 5, Size: 10 << 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.msgs == nil {
				tt.msgs = func() []Message { return generate(tt.opts, 300) }
			}
			kinds := map[string]int{}
			msgs := tt.msgs()
			for i, m := range msgs {
				kinds[m.Kind]++
				if err := checkMessage(m); err != nil {
					t.Fatalf("message %d (%s): %v\n%s", i, m.Kind, err, head(m.Raw))
				}
				if tt.opts.From != "" && m.From != mustAddr(t, tt.opts.From) {
					t.Fatalf("message %d: From %q, want %q", i, m.From, tt.opts.From)
				}
				if tt.opts.To != "" && m.To != mustAddr(t, tt.opts.To) {
					t.Fatalf("message %d: To %q, want %q", i, m.To, tt.opts.To)
				}
			}
			for _, k := range mix {
				if len(msgs) >= 1000 && kinds[k.kind] == 0 {
					t.Errorf("no message of kind %s in %d", k.kind, len(msgs))
				}
			}
		})
	}
}

func mustAddr(t *testing.T, s string) string {
	p, err := parsePerson(s)
	if err != nil {
		t.Fatal(err)
	}
	return p.addr
}

// head returns the start of a raw message for failure output.
func head(raw []byte) []byte {
	return raw[:min(len(raw), 3000)]
}

// checkMessage parses m.Raw and compares it with the fields of m.
func checkMessage(m Message) error {
	if err := checkLines(m.Raw); err != nil {
		return err
	}
	r, err := mail.CreateReader(bytes.NewReader(m.Raw))
	if err != nil {
		return fmt.Errorf("mail.CreateReader: %w", err)
	}
	defer r.Close()
	if err := checkHeader(r.Header, m); err != nil {
		return err
	}
	var names []string
	texts := 0
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("NextPart: %w", err)
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			return fmt.Errorf("reading part: %w", err)
		}
		if h, ok := p.Header.(*mail.AttachmentHeader); ok {
			name, err := h.Filename()
			if err != nil {
				return fmt.Errorf("attachment file name: %w", err)
			}
			names = append(names, name)
		}
		ct, _, _ := p.Header.(interface {
			ContentType() (string, map[string]string, error)
		}).ContentType()
		if strings.HasPrefix(ct, "text/") {
			texts++
			if !utf8.Valid(body) {
				return fmt.Errorf("%s part is not valid UTF-8 after decoding", ct)
			}
			if !strings.ContainsAny(string(body), "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ") {
				return fmt.Errorf("%s part has no Polish letter after decoding:\n%s", ct, body)
			}
			if text := strings.ReplaceAll(string(body), "\r\n", "\n"); ct == "text/plain" && text != m.Text {
				return fmt.Errorf("text decodes as\n%s\nwant\n%s", text, m.Text)
			}
		}
	}
	if texts == 0 {
		return errors.New("no text part")
	}
	if !slices.Equal(names, m.Attachments) {
		return fmt.Errorf("attachments %q, want %q", names, m.Attachments)
	}
	return nil
}

func checkHeader(h mail.Header, m Message) error {
	for _, k := range []string{"Date", "Message-Id", "From", "To", "Subject", "Mime-Version"} {
		if !h.Has(k) {
			return fmt.Errorf("no %s field", k)
		}
	}

	if s, err := h.Subject(); err != nil || s != m.Subject {
		return fmt.Errorf("Subject %q (%v), want %q", s, err, m.Subject)
	}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 {
		return fmt.Errorf("From %q: %v", h.Get("From"), err)
	}
	if from[0].Address != m.From || from[0].Name != m.FromName {
		return fmt.Errorf("From %q <%s>, want %q <%s>", from[0].Name, from[0].Address, m.FromName, m.From)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) == 0 || to[0].Address != m.To {
		return fmt.Errorf("To %q (%v), want first %s", h.Get("To"), err, m.To)
	}

	if id, err := h.MessageID(); err != nil || id != m.MessageID {
		return fmt.Errorf("Message-ID %q (%v), want %q", id, err, m.MessageID)
	}
	if d, err := h.Date(); err != nil || !d.Equal(m.Date) {
		return fmt.Errorf("Date %v (%v), want %v", d, err, m.Date)
	}

	irt, err := h.MsgIDList("In-Reply-To")
	if err != nil || (m.InReplyTo == "") != (len(irt) == 0) || len(irt) > 0 && irt[0] != m.InReplyTo {
		return fmt.Errorf("In-Reply-To %q (%v), want %q", irt, err, m.InReplyTo)
	}
	if refs, err := h.MsgIDList("References"); err != nil || !slices.Equal(refs, m.References) {
		return fmt.Errorf("References %q (%v), want %q", refs, err, m.References)
	}
	return nil
}

var encodedWord = regexp.MustCompile(`=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=`)

// checkLines checks that every line ends in CRLF and is at most 998 bytes
// long, that header lines are ASCII and at most 78, and that encoded words
// are at most 75.
func checkLines(raw []byte) error {
	inHeader := true
	for i, line := range bytes.SplitAfter(raw, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !bytes.HasSuffix(line, []byte("\r\n")) {
			return fmt.Errorf("line %d does not end in CRLF: %q", i+1, line)
		}
		if len(line) > 1000 {
			return fmt.Errorf("line %d is %d bytes long", i+1, len(line))
		}
		if inHeader && (!isASCII(string(line)) || len(line) > 80) {
			return fmt.Errorf("header line %d is not ASCII or longer than 78: %q", i+1, line)
		}
		for _, w := range encodedWord.FindAll(line, -1) {
			if len(w) > 75 {
				return fmt.Errorf("encoded word of %d bytes on line %d: %s", len(w), i+1, w)
			}
		}
		if len(line) == 2 {
			inHeader = false
		}
	}
	return nil
}

func TestDeterminism(t *testing.T) {
	a, b, c := New(Options{Seed: 11}), New(Options{Seed: 11}), New(Options{Seed: 12})
	same := 0
	for i := range 300 {
		ma, mb, mc := a.Next(), b.Next(), c.Next()
		if !bytes.Equal(ma.Raw, mb.Raw) {
			t.Fatalf("message %d differs between two generators of seed 11", i)
		}
		if bytes.Equal(ma.Raw, mc.Raw) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d messages of seed 11 and 12 are equal", same)
	}
}

func TestUniqueMessageIDs(t *testing.T) {
	seen := map[string]bool{}
	for i, m := range natural() {
		id := m.MessageID
		if seen[id] {
			t.Fatalf("message %d repeats Message-ID %s", i, id)
		}
		seen[id] = true
	}
}

func TestSize(t *testing.T) {
	for _, size := range []int{4 << 10, 10 << 10, 64 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			g := New(Options{Seed: 21, Size: size})
			for i := range 300 {
				m := g.Next()
				if d := len(m.Raw) - size; d > size/10 || -d > size/10 {
					t.Fatalf("message %d (%s) is %d bytes, want %d ± 10%%", i, m.Kind, len(m.Raw), size)
				}
			}
		})
	}
}

func TestDates(t *testing.T) {
	start := time.Date(2024, 10, 25, 16, 58, 0, 0, time.UTC)
	g := New(Options{Seed: 5, Start: start})
	prev := time.Time{}
	for i := range 500 {
		m := g.Next()
		if i == 0 && !m.Date.Equal(start) {
			t.Fatalf("first Date %v, want %v", m.Date, start)
		}
		if m.Date.Before(prev) {
			t.Fatalf("message %d dated %v, before %v", i, m.Date, prev)
		}
		_, off := m.Date.Zone()
		_, want := polishTime(m.Date).Zone()
		if off != want {
			t.Fatalf("message %d dated %v, want offset %d", i, m.Date, want)
		}
		if i > 0 && (m.Date.Hour() < 7 || m.Date.Hour() >= 18 || weekend(m.Date)) {
			t.Fatalf("message %d dated %v, outside office hours", i, m.Date)
		}
		prev = m.Date
	}
}

func TestMalformed(t *testing.T) {
	defectsSeen := map[string]bool{}
	for seed := range uint64(12) {
		m := Malformed(seed)
		defectsSeen[m.Defect] = true
		if m.Kind != KindMalformed || m.Defect == "" {
			t.Fatalf("seed %d: Kind %q, Defect %q", seed, m.Kind, m.Defect)
		}
		h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(m.Raw)))
		if err != nil || h.Get("Message-Id") != "<"+m.MessageID+">" {
			t.Fatalf("seed %d: header unreadable (%v) or Message-ID %q", seed, err, h.Get("Message-Id"))
		}
		if err := readAll(m.Raw); err == nil {
			t.Fatalf("seed %d (%s): go-message read the message without error:\n%s", seed, m.Defect, head(m.Raw))
		}
	}
	if len(defectsSeen) != len(defects) {
		t.Errorf("defects seen: %v, want %d", defectsSeen, len(defects))
	}
}

// readAll reads every part of a message with go-message.
func readAll(raw []byte) error {
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, p.Body); err != nil {
			return err
		}
	}
}

func TestOptionsCheck(t *testing.T) {
	for _, o := range []Options{{From: "not an address"}, {To: "a@"}, {Size: -1}} {
		if o.Check() == nil {
			t.Errorf("Check(%+v) = nil, want an error", o)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("New with a bad From did not panic")
		}
	}()
	New(Options{From: "<<"})
}

func BenchmarkNext(b *testing.B) {
	for _, size := range []int{0, 10 << 10} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			g := New(Options{Seed: 1, Size: size})
			var n int64
			for b.Loop() {
				n += int64(len(g.Next().Raw))
			}
			b.SetBytes(n / int64(max(b.N, 1)))
		})
	}
}
