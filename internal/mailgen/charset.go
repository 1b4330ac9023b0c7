package mailgen

import (
	"math/rand/v2"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// textCharset is a character set that text and headers are written in.
type textCharset struct {
	label string           // as declared in the message
	cm    *charmap.Charmap // nil for UTF-8
}

var (
	csUTF8   = textCharset{label: "UTF-8"}
	csLatin2 = textCharset{label: "ISO-8859-2", cm: charmap.ISO8859_2}
	csCP1250 = textCharset{label: "windows-1250", cm: charmap.Windows1250}
)

// labels are the spellings of each charset that mailers use.
var labels = map[string][]string{
	"UTF-8":        {"UTF-8", "utf-8"},
	"ISO-8859-2":   {"ISO-8859-2", "iso-8859-2"},
	"windows-1250": {"windows-1250", "Windows-1250"},
}

// spelled returns cs with one of its usual spellings.
func (cs textCharset) spelled(rng *rand.Rand) textCharset {
	if l, ok := labels[cs.label]; ok {
		cs.label = pick(rng, l)
	}
	return cs
}

// fallback replaces characters missing from a single-byte charset the way
// mailers do.
var fallback = map[rune]string{
	'–': "-", '—': "-", '„': `"`, '”': `"`, '“': `"`, '…': "...", '€': "EUR", '’': "'",
}

// localize replaces the characters the charset cannot encode, so the result
// equals the text a reader decodes from the encoded bytes.
func (cs textCharset) localize(s string) string {
	if cs.cm == nil {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if _, ok := cs.cm.EncodeRune(r); ok {
			b.WriteRune(r)
		} else if f, ok := fallback[r]; ok {
			b.WriteString(f)
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// encode returns s, already localized, in the charset.
func (cs textCharset) encode(s string) []byte {
	if cs.cm == nil {
		return []byte(s)
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		c, ok := cs.cm.EncodeRune(r)
		if !ok {
			c = '?'
		}
		out = append(out, c)
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
