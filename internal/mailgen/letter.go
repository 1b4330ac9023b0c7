package mailgen

import (
	"html"
	"strings"
)

// letter is the text of a message, rendered as plain text or as HTML.
type letter struct {
	greeting string
	paras    []string
	closing  string
	sig      []string
	quote    *quote
}

// quote is the earlier message cited under a reply.
type quote struct {
	intro string
	paras []string
}

const textWidth = 72

// newLetter writes a letter signed by from: a few paragraphs, or when
// short a single sentence and no footer.
func newLetter(f filler, from person, short bool) letter {
	l := letter{
		greeting: pick(f.rng, greetings),
		closing:  pick(f.rng, closings),
		sig:      signature(f.rng, from, !short),
	}
	if short {
		l.paras = []string{f.fill(pick(f.rng, sentences))}
		return l
	}
	for range 1 + f.rng.IntN(4) {
		l.paras = append(l.paras, f.paragraph())
	}
	return l
}

// body returns the paragraphs of the letter followed by the padding.
func (l letter) body(pad []string) []string {
	out := make([]string, 0, len(l.paras)+len(pad))
	out = append(out, l.paras...)
	return append(out, pad...)
}

// plain renders the letter as text/plain with LF line ends.
func (l letter) plain(pad []string) string {
	var b strings.Builder
	b.WriteString(l.greeting + "\n\n")
	for _, p := range l.body(pad) {
		writeLines(&b, "", wrap(p, textWidth))
		b.WriteString("\n")
	}
	b.WriteString(l.closing + "\n")
	if len(l.sig) > 0 {
		b.WriteString("-- \n")
		for _, s := range l.sig {
			if s == "" {
				b.WriteString("\n")
				continue
			}
			writeLines(&b, "", wrap(s, textWidth))
		}
	}
	if q := l.quote; q != nil {
		b.WriteString("\n" + q.intro + "\n")
		for i, p := range q.paras {
			if i > 0 {
				b.WriteString(">\n")
			}
			writeLines(&b, "> ", wrap(p, textWidth-2))
		}
	}
	return b.String()
}

func writeLines(b *strings.Builder, prefix string, lines []string) {
	for _, line := range lines {
		b.WriteString(prefix + line + "\n")
	}
}

// html renders the letter as an HTML document declaring charset.
func (l letter) html(charset string, pad []string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html>\n  <head>\n")
	b.WriteString(`    <meta http-equiv="Content-Type" content="text/html; charset=` + charset + "\">\n")
	b.WriteString("  </head>\n  <body>\n")
	b.WriteString("    <p>" + html.EscapeString(l.greeting) + "</p>\n")
	for _, p := range l.body(pad) {
		b.WriteString("    <p>" + html.EscapeString(p) + "</p>\n")
	}
	b.WriteString("    <p>" + html.EscapeString(l.closing) + "<br>\n    </p>\n")
	if len(l.sig) > 0 {
		b.WriteString(`    <div class="moz-signature">-- <br>`)
		for _, s := range l.sig {
			b.WriteString("\n      " + html.EscapeString(s) + "<br>")
		}
		b.WriteString("\n    </div>\n")
	}
	if q := l.quote; q != nil {
		b.WriteString(`    <div class="moz-cite-prefix">` + html.EscapeString(q.intro) + "<br>\n    </div>\n")
		b.WriteString("    <blockquote type=\"cite\">\n")
		for _, p := range q.paras {
			b.WriteString("      <p>" + html.EscapeString(p) + "</p>\n")
		}
		b.WriteString("    </blockquote>\n")
	}
	b.WriteString("  </body>\n</html>\n")
	return b.String()
}
