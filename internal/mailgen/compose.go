package mailgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// compose decides every part of one message of the given kind.
func (g *Generator) compose(rng *rand.Rand, kind string, date time.Time) *draft {
	if kind == KindReply && len(g.history) == 0 {
		kind = KindPlain
	}
	from := newCorrespondent(rng)
	if g.from != nil {
		from = *g.from
	}
	m := pick(rng, mailers)
	hdr := pick(rng, []textCharset{csUTF8, csUTF8, csUTF8, csLatin2, csCP1250})
	switch kind {
	case KindLatin2:
		hdr = csLatin2
	case KindCP1250:
		hdr = csCP1250
	}
	st := textStyle{codec: wordCodec{cs: hdr.spelled(rng), b: rng.IntN(2) == 0}, whole: rng.IntN(3) > 0}
	f := filler{rng: rng, date: date}
	lt := newLetter(f, from, g.opts.Size > 0)
	d := &draft{from: from, padSeed: rng.Uint64(), paras: lt.paras}
	d.msg = Message{Kind: kind, Date: date, From: from.addr, FromName: hdr.localize(from.name), To: g.owner.addr}
	d.msg.MessageID = m.id(rng, date, domainOf(from.addr))
	subject := g.subject(f)
	if kind == KindReply {
		subject = g.reply(rng, d, &lt)
	}
	d.msg.Subject = hdr.localize(subject)
	d.fields = g.fields(rng, d, st, m)
	d.root = g.body(rng, kind, f, st, m, lt, &d.msg)
	return d
}

func domainOf(addr string) string {
	_, domain, _ := strings.Cut(addr, "@")
	return domain
}

// subject returns a subject with single spaces between words.
func (g *Generator) subject(f filler) string {
	t := pick(f.rng, subjectTemplates)
	if f.rng.IntN(8) == 0 {
		t = pick(f.rng, longSubjectTemplates)
	}
	return strings.Join(strings.Fields(f.fill(t)), " ")
}

// reply makes d a reply to an earlier message and returns its subject.
func (g *Generator) reply(rng *rand.Rand, d *draft, lt *letter) string {
	p := g.history[len(g.history)-1-rng.IntN(min(len(g.history), 20))]
	refs := append(slices.Clone(p.refs), p.id)
	parent := p.id
	if rng.IntN(2) == 0 {
		// A reply to the owner's reply, which this mailbox does not contain.
		parent = mailers[0].id(rng, d.msg.Date, domainOf(g.owner.addr))
		refs = append(refs, parent)
	}
	if len(refs) > 10 {
		refs = append(refs[:1], refs[len(refs)-9:]...)
	}
	d.msg.InReplyTo = parent
	d.msg.References = refs
	sender := p.from.name
	if sender == "" {
		sender = p.from.addr
	}
	lt.quote = &quote{
		intro: fmt.Sprintf("W dniu %s, %s pisze:", p.date.Format("02.01.2006 o 15:04"), sender),
		paras: p.paras[:min(2, len(p.paras))],
	}
	return "Re: " + strings.TrimPrefix(p.subject, "Re: ")
}

// fields returns the message header fields, in the order mailers write them.
func (g *Generator) fields(rng *rand.Rand, d *draft, st textStyle, m mailer) []string {
	msg := &d.msg
	to := []person{g.owner}
	if rng.IntN(5) == 0 {
		to = append(to, newPerson(rng, home))
	}
	fs := []string{
		field("Message-ID", "<"+msg.MessageID+">"),
		field("Date", msg.Date.Format(pick(rng, dateLayouts))),
		"MIME-Version: 1.0\r\n",
		m.agentField(st),
		field("From", st.mailbox(d.from)...),
		field("To", addressList(st, to)...),
	}
	if rng.IntN(5) == 0 {
		fs = append(fs, field("Cc", addressList(st, []person{newPerson(rng, home)})...))
	}
	fs = append(fs, field("Subject", st.tokens(msg.Subject)...))
	if msg.InReplyTo != "" {
		fs = append(fs, field("In-Reply-To", "<"+msg.InReplyTo+">"))
		refs := make([]string, len(msg.References))
		for i, r := range msg.References {
			refs[i] = "<" + r + ">"
		}
		fs = append(fs, field("References", refs...))
	}
	if rng.IntN(2) == 0 {
		fs = append(fs, "Content-Language: pl\r\n")
	}
	return fs
}

func addressList(st textStyle, ps []person) []string {
	var out []string
	for i, p := range ps {
		if i > 0 {
			out[len(out)-1] += ","
		}
		q := p
		q.name = st.codec.cs.localize(p.name)
		out = append(out, st.mailbox(q)...)
	}
	return out
}

// body decides the MIME structure of the kind and returns how to render it
// with padding. It records in msg the attachment names and, at each
// rendering, the text.
func (g *Generator) body(rng *rand.Rand, kind string, f filler, st textStyle, m mailer, lt letter, msg *Message) func([]string) *part {
	cs, cte := csUTF8.spelled(rng), pick(rng, m.textCTE)
	switch kind {
	case KindLatin2:
		cs, cte = csLatin2.spelled(rng), "quoted-printable"
	case KindCP1250:
		cs, cte = csCP1250.spelled(rng), "quoted-printable"
	case KindReply:
		if c := pick(rng, []textCharset{csUTF8, csLatin2, csCP1250}); c.cm != nil {
			cs, cte = c.spelled(rng), "quoted-printable"
		}
	}
	htmlCTE := pick(rng, m.htmlCTE)
	if cs.cm != nil {
		htmlCTE = "quoted-printable"
	}

	altBoundary := m.boundary(rng)
	text := func(pad []string) *part {
		msg.Text = cs.localize(lt.plain(pad))
		return textPart("plain", cs, cte, msg.Text)
	}
	alt := func(pad []string) *part {
		return multipart("alternative", altBoundary, text(pad), textPart("html", cs, htmlCTE, lt.html(cs.label, pad)))
	}
	inner := text
	if kind == KindAlternative || (kind == KindReply || kind == KindAttachment) && rng.IntN(2) == 0 {
		inner = alt
	}
	if kind != KindAttachment {
		return inner
	}

	atts := g.attachments(rng, f, st, msg)
	boundary := m.boundary(rng)
	return func(pad []string) *part {
		p := multipart("mixed", boundary, append([]*part{inner(pad)}, atts...)...)
		p.preamble = m.preamble
		return p
	}
}

// attachments makes one or two files and returns their parts.
func (g *Generator) attachments(rng *rand.Rand, f filler, st textStyle, msg *Message) []*part {
	n := 1
	if g.opts.Size == 0 && rng.IntN(4) == 0 {
		n = 2
	}
	var parts []*part
	for range n {
		size := int(2048 * math.Exp2(rng.Float64()*5.5))
		if g.opts.Size > 0 {
			size = g.opts.Size / 5
		}
		a := newAttachment(f, st, size)
		msg.Attachments = append(msg.Attachments, a.filename)
		parts = append(parts, a.part(rng, st))
	}
	return parts
}
