package reconcile

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/mailreactor/mailreactor/store"
)

const (
	polishLower = "zażółć gęślą jaźń"
	polishUpper = "ZAŻÓŁĆ GĘŚLĄ JAŹŃ"
)

// encodeCharset converts UTF-8 text to the named single-byte charset, or
// returns it unchanged for "UTF-8".
func encodeCharset(t testing.TB, charset, text string) []byte {
	t.Helper()
	var table *charmap.Charmap
	switch charset {
	case "UTF-8":
		return []byte(text)
	case "ISO-8859-2":
		table = charmap.ISO8859_2
	case "windows-1250":
		table = charmap.Windows1250
	default:
		t.Fatalf("no encoder for charset %q", charset)
	}
	b, err := table.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatalf("encode %q as %s: %v", text, charset, err)
	}
	return b
}

// qWord returns text as one RFC 2047 Q-encoded word.
func qWord(t testing.TB, charset, text string) string {
	t.Helper()
	var b strings.Builder
	for _, c := range encodeCharset(t, charset, text) {
		switch {
		case c == ' ':
			b.WriteByte('_')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	return "=?" + charset + "?Q?" + b.String() + "?="
}

// bWord returns text as one RFC 2047 B-encoded word.
func bWord(t testing.TB, charset, text string) string {
	t.Helper()
	return "=?" + charset + "?B?" + base64.StdEncoding.EncodeToString(encodeCharset(t, charset, text)) + "?="
}

// parsed runs parseInto on a copy of raw and checks that Raw is left as it
// was.
func parsed(t *testing.T, raw string) store.Message {
	t.Helper()
	m := store.Message{Raw: []byte(raw)}
	parseInto(&m)
	if !bytes.Equal(m.Raw, []byte(raw)) {
		t.Errorf("parseInto changed Raw:\ngot  %q\nwant %q", m.Raw, raw)
	}
	return m
}

func TestParseEncodedWords(t *testing.T) {
	t.Parallel()
	for _, charset := range []string{"ISO-8859-2", "windows-1250", "UTF-8"} {
		for _, text := range []struct{ name, value string }{{"Lower", polishLower}, {"Upper", polishUpper}} {
			for _, form := range []struct {
				name   string
				encode func(testing.TB, string, string) string
			}{{"Q", qWord}, {"B", bWord}} {
				word := form.encode(t, charset, text.value)
				t.Run(charset+"/"+form.name+"/"+text.name, func(t *testing.T) {
					t.Parallel()
					m := parsed(t, "Subject: "+word+"\r\n"+
						"From: "+word+" <jan@example.com>\r\n"+
						"To: "+word+" <anna@example.com>, ola@example.com\r\n"+
						"Cc: "+word+" <piotr@example.com>\r\n"+
						"\r\nbody\r\n")
					if m.Subject != text.value {
						t.Errorf("Subject %s: got %q, want %q", word, m.Subject, text.value)
					}
					if want := text.value + " <jan@example.com>"; m.From != want {
						t.Errorf("From: got %q, want %q", m.From, want)
					}
					if want := text.value + " <anna@example.com>, ola@example.com"; m.To != want {
						t.Errorf("To: got %q, want %q", m.To, want)
					}
					if want := text.value + " <piotr@example.com>"; m.Cc != want {
						t.Errorf("Cc: got %q, want %q", m.Cc, want)
					}
					if m.ParseError != "" {
						t.Errorf("ParseError: got %q, want empty", m.ParseError)
					}
				})
			}
		}
	}
}

func TestParseHeaders(t *testing.T) {
	t.Parallel()
	for _, tt := range parseCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := parsed(t, tt.raw)
			if m.Subject != tt.subject {
				t.Errorf("Subject: got %q, want %q", m.Subject, tt.subject)
			}
			if m.From != tt.from {
				t.Errorf("From: got %q, want %q", m.From, tt.from)
			}
			if m.To != tt.to {
				t.Errorf("To: got %q, want %q", m.To, tt.to)
			}
			if m.Cc != tt.cc {
				t.Errorf("Cc: got %q, want %q", m.Cc, tt.cc)
			}
			if m.MessageID != tt.messageID {
				t.Errorf("MessageID: got %q, want %q", m.MessageID, tt.messageID)
			}
			switch {
			case tt.date == nil && m.Date != nil:
				t.Errorf("Date: got %v, want nil", *m.Date)
			case tt.date != nil && m.Date == nil:
				t.Errorf("Date: got nil, want %v", *tt.date)
			case tt.date != nil && !m.Date.Equal(*tt.date):
				t.Errorf("Date: got %v, want %v", *m.Date, *tt.date)
			}
			if len(tt.parseError) == 0 && m.ParseError != "" {
				t.Errorf("ParseError: got %q, want empty", m.ParseError)
			}
			for _, want := range tt.parseError {
				if !strings.Contains(m.ParseError, want) {
					t.Errorf("ParseError: got %q, want it to contain %q", m.ParseError, want)
				}
			}
		})
	}
}

func dateOf(t time.Time) *time.Time { return &t }

// parseCases are the table of TestParseHeaders and the seed corpus of
// FuzzParseInto.
var parseCases = []struct {
	name                             string
	raw                              string
	subject, from, to, cc, messageID string
	date                             *time.Time
	// parseError lists parts of ParseError. Empty means ParseError is empty.
	parseError []string
}{
	{
		name: "Plain",
		raw: "Message-ID: <a1.b2@example.com>\r\n" +
			"Date: Tue, 3 Dec 2024 14:05:00 +0100\r\n" +
			"From: Jan Kowalski <jan@example.com>\r\n" +
			"To: anna@example.com, \"Nowak, Piotr\" <piotr@example.com>\r\n" +
			"Subject: Umowa 12/2024\r\n" +
			"\r\nTreść.\r\n",
		subject: "Umowa 12/2024", from: "Jan Kowalski <jan@example.com>",
		to:        "anna@example.com, Nowak, Piotr <piotr@example.com>",
		messageID: "a1.b2@example.com",
		date:      dateOf(time.Date(2024, 12, 3, 13, 5, 0, 0, time.UTC)),
	},
	{
		name:    "ISO88592Literal",
		raw:     "Subject: =?ISO-8859-2?Q?Za=BF=F3=B3=E6_g=EA=B6l=B1_ja=BC=F1?=\r\n\r\nx\r\n",
		subject: "Zażółć gęślą jaźń",
	},
	{
		name:    "ISO88592LiteralCapitals",
		raw:     "Subject: =?iso-8859-2?q?=A1=C6=CA=A3=D1=D3=A6=AC=AF?=\r\n\r\nx\r\n",
		subject: "ĄĆĘŁŃÓŚŹŻ",
	},
	{
		name:    "Windows1250Literal",
		raw:     "Subject: =?windows-1250?Q?Za=BF=F3=B3=E6_g=EA=9Cl=B9_ja=9F=F1?=\r\n\r\nx\r\n",
		subject: "Zażółć gęślą jaźń",
	},
	{
		name:    "Windows1250LiteralCapitals",
		raw:     "Subject: =?windows-1250?Q?=A5=C6=CA=A3=D1=D3=8C=8F=AF?=\r\n\r\nx\r\n",
		subject: "ĄĆĘŁŃÓŚŹŻ",
	},
	{
		name:    "UTF8LiteralBase64",
		raw:     "Subject: =?UTF-8?B?xIXEh8SZxYLFhMOzxZvFusW8?=\r\n\r\nx\r\n",
		subject: "ąćęłńóśźż",
	},
	{
		name: "FoldedEncodedWords",
		raw: "Subject: =?ISO-8859-2?Q?Za=BF=F3=B3=E6?=\r\n" +
			" =?ISO-8859-2?Q?_g=EA=B6l=B1?=\r\n\r\nx\r\n",
		subject: "Zażółć gęślą",
	},
	{
		name:    "EncodedAndPlainMixed",
		raw:     "Subject: Re: =?UTF-8?Q?Faktura_=C5=BC=C3=B3=C5=82ta?= nr 7\r\n\r\nx\r\n",
		subject: "Re: Faktura żółta nr 7",
	},
	{
		name: "FromEncodedName",
		raw: "From: =?ISO-8859-2?Q?=A3ukasz_Gr=EAbski?= <lukasz@example.com>\r\n" +
			"To: =?windows-1250?B?jHdpYXQgb3OzYXc=?= <s@example.com>\r\n\r\nx\r\n",
		from: "Łukasz Grębski <lukasz@example.com>",
		to:   "Świat osław <s@example.com>",
	},
	{
		name: "Groups",
		raw: "To: undisclosed-recipients:;\r\n" +
			"Cc: Zespół: a@example.com, =?UTF-8?Q?=C5=81ukasz?= <l@example.com>;\r\n\r\nx\r\n",
		cc: "a@example.com, Łukasz <l@example.com>",
	},
	{
		name: "UnknownCharset",
		raw: "Message-ID: <u1@example.com>\r\n" +
			"Date: Mon, 2 Dec 2024 08:00:00 +0000\r\n" +
			"From: Jan <jan@example.com>\r\n" +
			"To: anna@example.com\r\n" +
			"Subject: =?x-unknown?Q?abc?=\r\n" +
			"Content-Type: text/plain; charset=x-unknown\r\n" +
			"\r\nbody\r\n",
		subject: "=?x-unknown?Q?abc?=", from: "Jan <jan@example.com>", to: "anna@example.com",
		messageID:  "u1@example.com",
		date:       dateOf(time.Date(2024, 12, 2, 8, 0, 0, 0, time.UTC)),
		parseError: []string{"x-unknown", "Subject"},
	},
	{
		name: "UnknownCharsetInFromName",
		raw: "From: =?x-unknown?Q?Jan?= <jan@example.com>\r\n" +
			"To: anna@example.com\r\n\r\nbody\r\n",
		from: "=?x-unknown?Q?Jan?= <jan@example.com>", to: "anna@example.com",
		parseError: []string{"From", "x-unknown"},
	},
	{
		name: "MultipartWithoutBoundary",
		raw: "Subject: Bez granicy\r\nContent-Type: multipart/mixed\r\n\r\n" +
			"--x\r\nContent-Type: text/plain\r\n\r\nbody\r\n--x--\r\n",
		subject:    "Bez granicy",
		parseError: []string{"body", "boundary"},
	},
	{
		name: "MultipartWithoutCloseDelimiter",
		raw: "Subject: Urwane\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n",
		subject:    "Urwane",
		parseError: []string{"body"},
	},
	{
		name: "MultipartWithoutParts",
		raw: "Subject: Pusto\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
			"no delimiter at all\r\n",
		subject:    "Pusto",
		parseError: []string{"body"},
	},
	{
		name: "InvalidBase64Body",
		raw: "Subject: Zdjęcie\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			"!!!not base64***\r\n",
		subject:    "Zdjęcie",
		parseError: []string{"body", "base64"},
	},
	{
		name: "InvalidBase64Attachment",
		raw: "Subject: Załącznik\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
			"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ntext\r\n" +
			"--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			"@@@@\r\n--b--\r\n",
		subject:    "Załącznik",
		parseError: []string{"body", "base64"},
	},
	{
		name:       "UnknownTransferEncoding",
		raw:        "Subject: Dziwne\r\nContent-Transfer-Encoding: x-weird\r\n\r\nbody\r\n",
		subject:    "Dziwne",
		parseError: []string{"x-weird"},
	},
	{
		name:       "NULInSubject",
		raw:        "Subject: a\x00b\r\n\r\nx\r\n",
		subject:    "ab",
		parseError: nil,
	},
	{
		name:    "InvalidUTF8InSubject",
		raw:     "Subject: Zap\xb3ata\r\n\r\nx\r\n",
		subject: "Zap\uFFFData",
	},
	{
		name:    "EncodedNULAndInvalidUTF8",
		raw:     "Subject: =?UTF-8?Q?a=00b?= =?UTF-8?B?/w==?=\r\n\r\nx\r\n",
		subject: "ab\uFFFD",
	},
	{
		name:       "InvalidUTF8InFromName",
		raw:        "From: J\xffn <jan@example.com>\r\n\r\nx\r\n",
		from:       "J\uFFFDn <jan@example.com>",
		parseError: []string{"From"},
	},
	{
		name:       "NULInQuotedName",
		raw:        "To: \"A\x00B\" <ab@example.com>\r\n\r\nx\r\n",
		to:         `"AB" <ab@example.com>`,
		parseError: []string{"To"},
	},
	{
		name:    "MissingDate",
		raw:     "Subject: Bez daty\r\n\r\nx\r\n",
		subject: "Bez daty",
	},
	{
		name:    "BlankDate",
		raw:     "Subject: Pusta data\r\nDate:\r\n\r\nx\r\n",
		subject: "Pusta data",
	},
	{
		name:       "InvalidDate",
		raw:        "Subject: Wczoraj\r\nDate: yesterday\r\n\r\nx\r\n",
		subject:    "Wczoraj",
		parseError: []string{"Date"},
	},
	{
		name:       "InvalidMessageID",
		raw:        "Message-ID: not an id\r\nSubject: s\r\n\r\nx\r\n",
		subject:    "s",
		parseError: []string{"Message-ID"},
	},
	{
		name:       "MalformedHeaderLine",
		raw:        "Subject hi\r\n\r\nx\r\n",
		parseError: []string{"parse message", "malformed"},
	},
	{
		name:    "LFLineEndings",
		raw:     "Subject: =?UTF-8?Q?Cze=C5=9B=C4=87?=\nFrom: a@example.com\n\nbody\n",
		subject: "Cześć",
		from:    "a@example.com",
	},
	{
		name: "Empty",
		raw:  "",
	},
}

// checkStorable fails the test when a text field of m would be rejected by
// a Postgres text column.
func checkStorable(t *testing.T, m store.Message) {
	t.Helper()
	for _, field := range []struct{ name, value string }{
		{"MessageID", m.MessageID},
		{"Subject", m.Subject},
		{"From", m.From},
		{"To", m.To},
		{"Cc", m.Cc},
		{"ParseError", m.ParseError},
	} {
		if !utf8.ValidString(field.value) {
			t.Errorf("%s: got invalid UTF-8 %q", field.name, field.value)
		}
		if strings.ContainsRune(field.value, 0) {
			t.Errorf("%s: got a NUL byte in %q", field.name, field.value)
		}
	}
}

func TestParseStorable(t *testing.T) {
	t.Parallel()
	for _, tt := range parseCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkStorable(t, parsed(t, tt.raw))
		})
	}
}

func FuzzParseInto(f *testing.F) {
	for _, tt := range parseCases {
		f.Add([]byte(tt.raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		original := bytes.Clone(raw)
		m := store.Message{Raw: raw}
		parseInto(&m)
		if !bytes.Equal(m.Raw, original) {
			t.Errorf("parseInto changed Raw:\ngot  %q\nwant %q", m.Raw, original)
		}
		checkStorable(t, m)
	})
}
