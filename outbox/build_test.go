package outbox

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/mailreactor/mailreactor/store"
)

func ptr(s string) *string { return &s }

var buildCreated = time.Date(2024, 12, 3, 10, 0, 0, 0, time.UTC)

func TestComposeBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		text, html *string
		wantType   string
		wantParts  []string
	}{
		{"TextOnly", ptr("Cześć\n"), nil, "text/plain", nil},
		{"HTMLOnly", nil, ptr("<p>Cześć</p>"), "text/html", nil},
		{"Neither", nil, nil, "text/plain", nil},
		{"Both", ptr("Cześć\n"), ptr("<p>Cześć</p>"), "multipart/alternative", []string{"text/plain", "text/html"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			row := store.OutboxRow{ID: 1, To: []string{"anna@example.test"}, Subject: "Ważne",
				BodyText: tt.text, BodyHTML: tt.html, CreatedAt: buildCreated, MessageID: "m1@example.test"}
			msg, err := buildMessage(row, "office@example.test", nil)
			if err != nil {
				t.Fatalf("buildMessage: %v", err)
			}
			r, err := mail.CreateReader(bytes.NewReader(msg.data))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got, _, _ := r.Header.ContentType(); got != tt.wantType {
				t.Errorf("Content-Type %q, want %q", got, tt.wantType)
			}
			if date, _ := r.Header.Date(); !date.Equal(buildCreated) {
				t.Errorf("Date %v, want the row's created_at %v", date, buildCreated)
			}
			if from := r.Header.Get("From"); from != "<office@example.test>" {
				t.Errorf("From %q, want the account's address", from)
			}
			var parts []string
			for {
				p, err := r.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("next part: %v", err)
				}
				mediaType, _, _ := p.Header.(*mail.InlineHeader).ContentType()
				parts = append(parts, mediaType)
			}
			if tt.wantParts != nil && strings.Join(parts, ",") != strings.Join(tt.wantParts, ",") {
				t.Errorf("parts %q, want %q", parts, tt.wantParts)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		row  store.OutboxRow
		want string
	}{
		{"NoRecipients", store.OutboxRow{Subject: "s"}, "no recipients"},
		{"BadTo", store.OutboxRow{To: []string{"Anna <anna@"}}, "to_addrs"},
		{"BadBcc", store.OutboxRow{To: []string{"a@example.test"}, Bcc: []string{"<<x"}}, "bcc_addrs"},
		{"BadFrom", store.OutboxRow{From: "not an address", To: []string{"a@example.test"}}, "from_addr"},
		{"BadRawHeader", store.OutboxRow{Raw: []byte("To: a@example.test\r\nno colon\r\n\r\nbody")}, "read message header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := buildMessage(tt.row, "office@example.test", nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("buildMessage: got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// The copy for the Sent folder keeps the Bcc header that the wire message
// lacks.
func TestBuildCopyKeepsBcc(t *testing.T) {
	t.Parallel()
	row := store.OutboxRow{To: []string{"a@example.test"}, Bcc: []string{"Ukryty <b@example.test>"},
		BodyText: ptr("x"), CreatedAt: buildCreated, MessageID: "m2@example.test"}
	msg, err := buildMessage(row, "office@example.test", nil)
	if err != nil {
		t.Fatalf("buildMessage: %v", err)
	}
	if bytes.Contains(msg.data, []byte("b@example.test")) {
		t.Errorf("wire message names the Bcc recipient:\n%s", msg.data)
	}
	if !bytes.Contains(msg.copy, []byte("Bcc: \"Ukryty\" <b@example.test>")) {
		t.Errorf("Sent copy lacks the Bcc header:\n%s", msg.copy)
	}
	if want := []string{"a@example.test", "b@example.test"}; strings.Join(msg.recipients, ",") != strings.Join(want, ",") {
		t.Errorf("recipients %q, want %q", msg.recipients, want)
	}
}

func TestCompleteHeaderBareLF(t *testing.T) {
	t.Parallel()
	raw := []byte("To: a@example.test\nSubject: s\n\nbody\n")
	out, id, err := completeHeader(raw, "stored@example.test", buildCreated, "office@example.test")
	if err != nil {
		t.Fatalf("completeHeader: %v", err)
	}
	want := "Message-ID: <stored@example.test>\nDate: Tue, 03 Dec 2024 10:00:00 +0000\nFrom: office@example.test\n" + string(raw)
	if id != "stored@example.test" || string(out) != want {
		t.Errorf("got %q with id %q, want %q", out, id, want)
	}
}
