package mailgen

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// wordCodec writes RFC 2047 encoded words in one charset and encoding.
type wordCodec struct {
	cs textCharset
	b  bool // B (base64) rather than Q encoding
}

// maxWordLen is the length of the longest encoded word written: RFC 2047
// allows 75, and a shorter one fits on the first line of a field.
const maxWordLen = 66

func (c wordCodec) prefix() string {
	if c.b {
		return "=?" + c.cs.label + "?B?"
	}
	return "=?" + c.cs.label + "?Q?"
}

// qLiteral reports whether Q encoding may leave b as it is, even inside a
// display name.
func qLiteral(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		strings.IndexByte("!*+-/", b) >= 0
}

func (c wordCodec) encodedLen(raw []byte) int {
	if c.b {
		return base64.StdEncoding.EncodedLen(len(raw))
	}
	n := 0
	for _, x := range raw {
		if qLiteral(x) || x == ' ' {
			n++
		} else {
			n += 3
		}
	}
	return n
}

func (c wordCodec) word(raw []byte) string {
	var b strings.Builder
	b.WriteString(c.prefix())
	if c.b {
		b.WriteString(base64.StdEncoding.EncodeToString(raw))
	} else {
		for _, x := range raw {
			switch {
			case x == ' ':
				b.WriteByte('_')
			case qLiteral(x):
				b.WriteByte(x)
			default:
				fmt.Fprintf(&b, "=%02X", x)
			}
		}
	}
	b.WriteString("?=")
	return b.String()
}

// words encodes s, already localized, as encoded words of whole characters.
func (c wordCodec) words(s string) []string {
	room := maxWordLen - len(c.prefix()) - len("?=")
	var out []string
	var cur []byte
	for _, r := range s {
		rb := c.cs.encode(string(r))
		next := append(cur[:len(cur):len(cur)], rb...)
		if len(cur) > 0 && c.encodedLen(next) > room {
			out = append(out, c.word(cur))
			next = rb
		}
		cur = next
	}
	if len(cur) > 0 {
		out = append(out, c.word(cur))
	}
	return out
}

// textStyle is the way header text such as a subject or a name is written.
type textStyle struct {
	codec wordCodec
	whole bool // encode all the text, not only the words that need it
}

// tokens writes unstructured text, whose words are separated by single
// spaces, as tokens to be joined by spaces.
func (st textStyle) tokens(s string) []string {
	words := strings.Split(s, " ")
	if isASCII(s) {
		return words
	}
	if st.whole {
		return st.codec.words(s)
	}
	var out, run []string
	flush := func() {
		if len(run) > 0 {
			out = append(out, st.codec.words(strings.Join(run, " "))...)
			run = nil
		}
	}
	for _, w := range words {
		if isASCII(w) {
			flush()
			out = append(out, w)
		} else {
			run = append(run, w)
		}
	}
	flush()
	return out
}

// mailbox writes a display name and address as tokens.
func (st textStyle) mailbox(p person) []string {
	addr := "<" + p.addr + ">"
	switch {
	case p.name == "":
		return []string{p.addr}
	case !isASCII(p.name):
		return append(st.codec.words(p.name), addr)
	case strings.ContainsAny(p.name, `()<>[]:;@\,."`):
		return []string{quoteString(p.name), addr}
	}
	return append(strings.Split(p.name, " "), addr)
}

func quoteString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// foldWidth is the line length after which header fields are folded.
const foldWidth = 76

// field renders a header field whose value is tokens separated by single
// spaces. It folds before a token that would run past foldWidth, even the
// first, so unfolding gives back the value.
func field(name string, tokens ...string) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte(':')
	n := len(name) + 1
	for _, t := range tokens {
		if n+1+len(t) > foldWidth && n > 0 {
			b.WriteString("\r\n")
			n = 0
		}
		b.WriteByte(' ')
		b.WriteString(t)
		n += 1 + len(t)
	}
	b.WriteString("\r\n")
	return b.String()
}

// params turns a value and its parameters into tokens with separators.
func params(value string, ps ...string) []string {
	out := []string{value}
	for _, p := range ps {
		out[len(out)-1] += ";"
		out = append(out, p)
	}
	return out
}

// rfc2231 writes a parameter of any characters as RFC 2231 extended
// parameters in UTF-8, split into numbered sections when long.
func rfc2231(name, value string) []string {
	var enc strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		if qLiteral(c) && c != '*' && c != '/' || strings.IndexByte(".-_~", c) >= 0 {
			enc.WriteByte(c)
		} else {
			fmt.Fprintf(&enc, "%%%02X", c)
		}
	}
	s := enc.String()
	const section = 60
	if len(s) <= section {
		return []string{name + "*=UTF-8''" + s}
	}
	var out []string
	for i := 0; s != ""; i++ {
		n := min(section, len(s))
		if j := strings.LastIndexByte(s[:n], '%'); j > n-3 && n < len(s) {
			n = j
		}
		head := fmt.Sprintf("%s*%d*=", name, i)
		if i == 0 {
			head += "UTF-8''"
		}
		out = append(out, head+s[:n])
		s = s[n:]
	}
	return out
}
