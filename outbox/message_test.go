package outbox

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestPrepareRecipients(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		raw    string
		rcptTo []string
		want   []string
	}{
		{
			name:   "RcptToWins",
			raw:    "To: a@example.com\r\nCc: b@example.com\r\nSubject: s\r\n\r\nbody\r\n",
			rcptTo: []string{"x@example.com", "y@example.com"},
			want:   []string{"x@example.com", "y@example.com"},
		},
		{
			name:   "RcptToWithoutHeaders",
			raw:    "Subject: s\r\n\r\nbody\r\n",
			rcptTo: []string{"x@example.com"},
			want:   []string{"x@example.com"},
		},
		{
			name: "ToCcBcc",
			raw:  "To: a@example.com\r\nCc: b@example.com\r\nBcc: c@example.com\r\n\r\nbody\r\n",
			want: []string{"a@example.com", "b@example.com", "c@example.com"},
		},
		{
			name: "DisplayNames",
			raw: "To: Jan Kowalski <jan@example.com>, \"Nowak, Anna\" <anna@example.com>\r\n" +
				"Cc: piotr@example.com (Piotr)\r\n\r\nbody\r\n",
			want: []string{"jan@example.com", "anna@example.com", "piotr@example.com"},
		},
		{
			name: "EncodedNames",
			raw: "To: =?UTF-8?Q?=C5=81ukasz_Gr=C4=99bski?= <lukasz@example.com>\r\n" +
				"Cc: =?ISO-8859-2?B?r/Ozaw==?= <zolw@example.com>\r\n" +
				"Bcc: =?windows-1250?Q?=8Cwi=EAty?= <swiety@example.com>\r\n\r\nbody\r\n",
			want: []string{"lukasz@example.com", "zolw@example.com", "swiety@example.com"},
		},
		{
			name: "Groups",
			raw: "To: undisclosed-recipients:;\r\n" +
				"Cc: Zarząd: prezes@example.com, Anna <anna@example.com>;, solo@example.com\r\n" +
				"Bcc: archive@example.com\r\n\r\nbody\r\n",
			want: []string{"prezes@example.com", "anna@example.com", "solo@example.com", "archive@example.com"},
		},
		{
			name: "OnlyBcc",
			raw:  "Subject: s\r\nBcc: hidden@example.com\r\n\r\nbody\r\n",
			want: []string{"hidden@example.com"},
		},
		{
			name: "FoldedTo",
			raw:  "To: a@example.com,\r\n b@example.com,\r\n\tc@example.com\r\n\r\nbody\r\n",
			want: []string{"a@example.com", "b@example.com", "c@example.com"},
		},
		{
			name: "LowerCaseKeys",
			raw:  "to: a@example.com\r\nCC: b@example.com\r\nbcc: c@example.com\r\n\r\nbody\r\n",
			want: []string{"a@example.com", "b@example.com", "c@example.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := prepare([]byte(tt.raw), tt.rcptTo)
			if err != nil {
				t.Fatalf("prepare: %v", err)
			}
			if !slices.Equal(got.recipients, tt.want) {
				t.Errorf("recipients: got %q, want %q", got.recipients, tt.want)
			}
		})
	}
}

func TestPrepareRemovesBcc(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		raw    string
		rcptTo []string
		// want is the expected data: raw without its Bcc field.
		want string
	}{
		{
			name: "Middle",
			raw: "From: Jan <jan@example.com>\r\n" +
				"To: anna@example.com\r\n" +
				"Bcc: hidden@example.com\r\n" +
				"Subject: =?UTF-8?Q?Za=C5=BC=C3=B3=C5=82=C4=87?=\r\n" +
				"\r\n" +
				"Bcc: a body line that looks like a header\r\n" +
				".leading dot\r\n",
			want: "From: Jan <jan@example.com>\r\n" +
				"To: anna@example.com\r\n" +
				"Subject: =?UTF-8?Q?Za=C5=BC=C3=B3=C5=82=C4=87?=\r\n" +
				"\r\n" +
				"Bcc: a body line that looks like a header\r\n" +
				".leading dot\r\n",
		},
		{
			name: "FoldedAndOddSpacing",
			raw: "X-First:   kept   as is  \r\n" +
				"Bcc: one@example.com,\r\n" +
				"\ttwo@example.com\r\n" +
				"To:anna@example.com\r\n" +
				"Subject: folded\r\n" +
				"  subject line\r\n" +
				"\r\n" +
				"body\r\n\r\nlast line without newline",
			want: "X-First:   kept   as is  \r\n" +
				"To:anna@example.com\r\n" +
				"Subject: folded\r\n" +
				"  subject line\r\n" +
				"\r\n" +
				"body\r\n\r\nlast line without newline",
		},
		{
			name: "FirstAndLast",
			raw:  "Bcc: a@example.com\r\nTo: b@example.com\r\nBCC: c@example.com\r\n\r\nbody\r\n",
			want: "To: b@example.com\r\n\r\nbody\r\n",
		},
		{
			name:   "WithRcptTo",
			raw:    "To: b@example.com\r\nBcc: c@example.com\r\n\r\nbody\r\n",
			rcptTo: []string{"b@example.com"},
			want:   "To: b@example.com\r\n\r\nbody\r\n",
		},
		{
			name: "EightBitBody",
			raw:  "To: b@example.com\r\nBcc: c@example.com\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nŻółw \x00\xff\r\n",
			want: "To: b@example.com\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nŻółw \x00\xff\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw := []byte(tt.raw)
			got, err := prepare(raw, tt.rcptTo)
			if err != nil {
				t.Fatalf("prepare: %v", err)
			}
			if string(got.data) != tt.want {
				t.Errorf("data:\ngot  %q\nwant %q", got.data, tt.want)
			}
			if string(raw) != tt.raw {
				t.Errorf("prepare changed raw:\ngot  %q\nwant %q", raw, tt.raw)
			}
		})
	}
}

func TestPrepareWithoutBccKeepsData(t *testing.T) {
	t.Parallel()
	raw := "To: a@example.com\r\nSubject: s\r\n\r\nbody\r\n"
	got, err := prepare([]byte(raw), nil)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if string(got.data) != raw {
		t.Errorf("data:\ngot  %q\nwant %q", got.data, raw)
	}
}

// Stored rows may use bare LF line endings. Apart from line endings, which
// SMTP turns into CRLF on the wire anyway, the fields and the body must come
// through unchanged.
func TestPrepareBareLF(t *testing.T) {
	t.Parallel()
	raw := "From: jan@example.com\nBcc: hidden@example.com\nTo: anna@example.com\nSubject: s\n\nline 1\nline 2\n"
	want := "From: jan@example.com\nTo: anna@example.com\nSubject: s\n\nline 1\nline 2\n"
	got, err := prepare([]byte(raw), nil)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if data := strings.ReplaceAll(string(got.data), "\r\n", "\n"); data != want {
		t.Errorf("data with CRLF read as LF:\ngot  %q\nwant %q", data, want)
	}
	if want := []string{"anna@example.com", "hidden@example.com"}; !slices.Equal(got.recipients, want) {
		t.Errorf("recipients: got %q, want %q", got.recipients, want)
	}
}

// The envelope needs only the addresses, so a display name that cannot be
// decoded must not cost the message its recipients.
func TestPrepareUndecodableName(t *testing.T) {
	t.Parallel()
	raw := "To: =?x-unknown?Q?Jan?= <jan@example.com>\r\nCc: anna@example.com\r\n\r\nbody\r\n"
	got, err := prepare([]byte(raw), nil)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if want := []string{"jan@example.com", "anna@example.com"}; !slices.Equal(got.recipients, want) {
		t.Errorf("recipients: got %q, want %q", got.recipients, want)
	}
}

func TestPrepareErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		raw    string
		rcptTo []string
		want   string
	}{
		{"NoRecipientHeaders", "From: jan@example.com\r\nSubject: s\r\n\r\nbody\r\n", nil, "no recipients"},
		{"EmptyRcptTo", "To: a@example.com\r\n\r\nbody\r\n", []string{}, "no recipients"},
		{"OnlyEmptyGroup", "To: undisclosed-recipients:;\r\n\r\nbody\r\n", nil, "no recipients"},
		{"EmptyMessage", "", nil, "no recipients"},
		{"HeaderLineWithoutColon", "To: a@example.com\r\nnot a header\r\n\r\nbody\r\n", nil, "read message header"},
		{"LeadingContinuation", " To: a@example.com\r\n\r\nbody\r\n", nil, "read message header"},
		{"InvalidKey", "To: a@example.com\r\nX Bad Key: v\r\n\r\nbody\r\n", nil, "read message header"},
		{"MalformedTo", "To: <<not an address\r\n\r\nbody\r\n", nil, "parse To header"},
		{"MalformedCc", "To: a@example.com\r\nCc: a@@example..com>\r\n\r\nbody\r\n", nil, "parse Cc header"},
		{"MalformedBcc", "To: a@example.com\r\nBcc: Anna <anna@example.com\r\n\r\nbody\r\n", nil, "parse Bcc header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := prepare([]byte(tt.raw), tt.rcptTo)
			if err == nil {
				t.Fatalf("prepare: got recipients %q and no error, want an error with %q", got.recipients, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("prepare: got error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestPrepareMalformedHeaderWithRcptTo(t *testing.T) {
	t.Parallel()
	raw := []byte("To: a@example.com\r\nnot a header\r\n\r\nbody\r\n")
	if _, err := prepare(raw, []string{"a@example.com"}); err == nil {
		t.Fatal("prepare with rcpt_to and a malformed header: got no error, want one")
	}
	if !bytes.Contains(raw, []byte("not a header")) {
		t.Errorf("prepare changed raw: %q", raw)
	}
}
