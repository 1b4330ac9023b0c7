// Package mailgen generates raw RFC 5322 messages that look like the office
// mail of a Polish company: Polish text and names, UTF-8, ISO-8859-2 and
// windows-1250 charsets, RFC 2047 headers, HTML alternatives, attachments
// and reply threads. The output depends only on the options, so a seed
// names a mailbox.
package mailgen

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"time"
)

// Options configure a Generator.
type Options struct {
	Seed uint64
	// From and To are addresses, bare or with a display name
	// ("Anna Nowak <anna@example.test>"); empty means generated.
	From, To string
	// Start is the Date of the first message; zero means 4 March 2024,
	// 08:12 Polish time. Later messages follow in office hours.
	Start time.Time
	// Size is the approximate length of each Raw in bytes: bodies are padded
	// with generated text to within 10% of it. Under about 3.5 KB that is
	// best effort, because header and signature alone can be longer. 0 means
	// the natural mix of sizes.
	Size int
}

// Check reports whether New accepts the options.
func (o Options) Check() error {
	if o.Size < 0 {
		return errors.New("mailgen: Size must not be negative")
	}
	for _, a := range []string{o.From, o.To} {
		if a == "" {
			continue
		}
		if _, err := parsePerson(a); err != nil {
			return err
		}
	}
	return nil
}

// Message is one generated message and what a reader should decode from it.
type Message struct {
	Raw         []byte
	Subject     string // the intended decoded subject
	From        string // the decoded From address, without a display name
	FromName    string // the decoded From display name; empty if none
	To          string // the first To address
	MessageID   string // without angle brackets
	Date        time.Time
	Kind        string
	InReplyTo   string   // for replies, without angle brackets
	References  []string // for replies, without angle brackets
	Attachments []string // decoded file names of the attachments
	Text        string   // the decoded text/plain body, with LF line ends
	Defect      string   // for malformed messages, what is wrong
}

// Kinds of messages.
const (
	KindPlain       = "plain"        // text/plain in UTF-8
	KindAlternative = "alternative"  // multipart/alternative, text and HTML
	KindAttachment  = "attachment"   // multipart/mixed with files
	KindLatin2      = "iso-8859-2"   // text/plain, headers and body in ISO-8859-2
	KindCP1250      = "windows-1250" // text/plain, headers and body in windows-1250
	KindReply       = "reply"        // a reply in a thread, quoting the earlier message
	KindMalformed   = "malformed"    // only from Malformed
)

// mix gives the share of each kind in Next, in percent.
var mix = []struct {
	kind  string
	share int
}{
	{KindPlain, 22}, {KindAlternative, 22}, {KindAttachment, 16},
	{KindLatin2, 10}, {KindCP1250, 10}, {KindReply, 20},
}

// Generator produces a deterministic sequence of messages. It is not safe
// for concurrent use.
type Generator struct {
	opts    Options
	from    *person // fixed sender, if given
	owner   person  // the mailbox's owner, the recipient
	n       uint64
	last    time.Time
	history []sent
}

// sent is the record of a message that later replies quote and reference.
type sent struct {
	subject string
	id      string
	refs    []string
	from    person
	date    time.Time
	paras   []string
}

const historyLen = 64

// New returns a generator. It panics if opts.Check fails.
func New(opts Options) *Generator {
	if err := opts.Check(); err != nil {
		panic(err)
	}
	g := &Generator{opts: opts}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x6f776e6572))
	g.owner = newPerson(rng, home)
	if rng.IntN(3) == 0 {
		g.owner = person{name: "Biuro " + home.name, addr: "biuro@" + home.domain, company: home}
	}
	if opts.To != "" {
		g.owner, _ = parsePerson(opts.To)
	}
	if opts.From != "" {
		p, _ := parsePerson(opts.From)
		g.from = &p
	}
	return g
}

// Next returns the next message of the sequence.
func (g *Generator) Next() Message {
	return g.next(pickKind)
}

func (g *Generator) next(kind func(*rand.Rand) string) Message {
	d := g.draft(kind)
	raw := g.fit(d)
	msg := d.msg
	msg.Raw = raw
	g.remember(d)
	return msg
}

// draft decides the next message, of a kind drawn by kind.
func (g *Generator) draft(kind func(*rand.Rand) string) *draft {
	rng := rand.New(rand.NewPCG(g.opts.Seed, g.n))
	g.n++
	date := g.advance(rng)
	return g.compose(rng, kind(rng), date)
}

func pickKind(rng *rand.Rand) string {
	n := rng.IntN(100)
	for _, m := range mix {
		if n < m.share {
			return m.kind
		}
		n -= m.share
	}
	return KindPlain
}

// advance returns the Date of the next message: the start first, then a
// few minutes to an hour later, in office hours on working days.
func (g *Generator) advance(rng *rand.Rand) time.Time {
	if g.n == 1 {
		start := g.opts.Start
		if start.IsZero() {
			start = time.Date(2024, 3, 4, 8, 12, 0, 0, cet)
		}
		g.last = start.Truncate(time.Second)
		return polishTime(g.last)
	}
	t := polishTime(g.last.Add(time.Duration(20+rng.IntN(50*60)) * time.Second))
	if t.Hour() >= 17 || weekend(t) {
		day := time.Date(t.Year(), t.Month(), t.Day()+1, 7, 30, 0, 0, t.Location())
		for weekend(day) {
			day = day.AddDate(0, 0, 1)
		}
		t = polishTime(day.Add(time.Duration(rng.IntN(90*60)) * time.Second))
	}
	g.last = t
	return t
}

func weekend(t time.Time) bool {
	return t.Weekday() == time.Saturday || t.Weekday() == time.Sunday
}

// fit renders the draft, padded so its length is near Options.Size.
func (g *Generator) fit(d *draft) []byte {
	raw := d.render(nil)
	target := g.opts.Size
	if target <= 0 || len(raw) >= target {
		return raw
	}
	base := len(raw)
	n := target - base
	for range 8 {
		raw = d.render(padding(d.padSeed, d.msg.Date, n))
		diff := target - len(raw)
		if diff <= target/50 && -diff <= target/50 {
			break
		}
		if grown := len(raw) - base; grown > 0 {
			n = int(float64(n) * float64(target-base) / float64(grown))
		} else {
			n += diff
		}
	}
	return raw
}

func (g *Generator) remember(d *draft) {
	s := sent{
		subject: d.msg.Subject,
		id:      d.msg.MessageID,
		refs:    d.msg.References,
		from:    d.from,
		date:    d.msg.Date,
		paras:   d.paras,
	}
	if len(g.history) == historyLen {
		g.history = append(g.history[:0], g.history[1:]...)
	}
	g.history = append(g.history, s)
}

// draft is a message decided but not yet rendered.
type draft struct {
	msg     Message
	from    person
	fields  []string                 // message header fields, each with CRLF
	root    func(pad []string) *part // the body, padded
	padSeed uint64
	paras   []string
}

func (d *draft) render(pad []string) []byte {
	var b bytes.Buffer
	for _, f := range d.fields {
		b.WriteString(f)
	}
	root := d.root(pad)
	for _, f := range root.fields {
		b.WriteString(f)
	}
	b.WriteString("\r\n")
	root.writeBody(&b)
	return b.Bytes()
}
