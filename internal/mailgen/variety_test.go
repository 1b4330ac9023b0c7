package mailgen

import (
	"bytes"
	"strings"
	"testing"
)

// TestVariety checks that the natural mix contains each way of writing Polish
// text that the generator promises.
func TestVariety(t *testing.T) {
	var headers, subjects, names strings.Builder
	folded := 0
	for _, m := range natural() {
		h := rawHeader(t, m.Raw)
		headers.WriteString(strings.ToLower(h))
		subjects.WriteString(m.Subject + "\n")
		names.WriteString(m.FromName + " " + strings.Join(m.Attachments, " ") + "\n")
		if s := subjectField(h); strings.Count(s, "\r\n") > 1 {
			folded++
		}
		for _, c := range []string{"iso-8859-2", "windows-1250"} {
			if strings.Contains(strings.ToLower(string(m.Raw)), "content-type: text/plain; charset="+c) &&
				!strings.Contains(string(m.Raw), "quoted-printable") {
				t.Fatalf("%s text without quoted-printable", c)
			}
		}
	}
	for _, want := range []string{
		"=?utf-8?q?", "=?utf-8?b?", "=?iso-8859-2?q?", "=?iso-8859-2?b?",
		"=?windows-1250?q?", "=?windows-1250?b?", "in-reply-to:", "references:",
	} {
		if !strings.Contains(headers.String(), want) {
			t.Errorf("no header has %q", want)
		}
	}
	for _, r := range "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ" {
		if !strings.ContainsRune(subjects.String(), r) {
			t.Errorf("no decoded subject has %q", r)
		}
	}
	for _, r := range "ąćęłńóśźżŁŚŻ" {
		if !strings.ContainsRune(names.String(), r) {
			t.Errorf("no decoded display name or file name has %q", r)
		}
	}
	if folded < 20 {
		t.Errorf("%d subjects folded over several lines, want at least 20", folded)
	}
}

// rawHeader returns the header of a message as written.
func rawHeader(t *testing.T, raw []byte) string {
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("no end of header")
	}
	return string(raw[:i+2])
}

// subjectField returns the Subject field of a header with its folds.
func subjectField(h string) string {
	i := strings.Index(h, "\r\nSubject:")
	if i < 0 {
		return ""
	}
	s := h[i+2:]
	end := 0
	for {
		j := strings.Index(s[end:], "\r\n")
		end += j + 2
		if end >= len(s) || (s[end] != ' ' && s[end] != '\t') {
			return s[:end]
		}
	}
}

func TestAttachmentNames(t *testing.T) {
	styles := map[string]int{}
	for _, m := range natural() {
		raw := string(m.Raw)
		if strings.Contains(raw, "filename*") {
			styles["rfc2231"]++
		}
		if strings.Contains(raw, `filename="=?`) {
			styles["rfc2047"]++
		}
	}
	if styles["rfc2231"] == 0 || styles["rfc2047"] == 0 {
		t.Errorf("attachment names by encoding: %v, want both", styles)
	}
}
