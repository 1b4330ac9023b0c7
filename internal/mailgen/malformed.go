package mailgen

import (
	"math/rand/v2"
)

// defect is a way of breaking the MIME structure of a message.
type defect struct {
	description string
	kind        string
	// breakPart changes the root part of the message.
	breakPart func(p *part)
}

var defects = []defect{
	{
		description: "multipart/mixed without a boundary parameter",
		kind:        KindAttachment,
		breakPart: func(p *part) {
			p.fields[0] = field("Content-Type", "multipart/mixed")
		},
	},
	{
		description: "boundary parameter unlike the delimiters in the body",
		kind:        KindAttachment,
		breakPart: func(p *part) {
			p.fields[0] = field("Content-Type", params("multipart/mixed", `boundary="`+p.boundary+`-x"`)...)
		},
	},
	{
		description: `unknown Content-Transfer-Encoding "8-bit"`,
		kind:        KindPlain,
		breakPart: func(p *part) {
			p.fields[1] = field("Content-Transfer-Encoding", "8-bit")
		},
	},
}

// Malformed returns a message whose header fields are well formed but
// whose MIME structure github.com/emersion/go-message cannot read. The
// seed chooses the message and, cycling through three, its defect.
//
// With a multipart/mixed that has no boundary parameter, or whose boundary
// parameter matches none of its delimiters, reading the parts fails. With
// an unknown transfer encoding on the whole message, mail.CreateReader
// fails.
func Malformed(seed uint64) Message {
	df := defects[seed%uint64(len(defects))]
	g := New(Options{Seed: seed})
	d := g.draft(func(*rand.Rand) string { return df.kind })
	root := d.root
	d.root = func(pad []string) *part {
		p := root(pad)
		df.breakPart(p)
		return p
	}
	msg := d.msg
	msg.Kind = KindMalformed
	msg.Defect = df.description
	msg.Raw = d.render(nil)
	return msg
}
