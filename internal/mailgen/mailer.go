package mailgen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// mailer is the program a sender writes with: it shapes the Message-ID,
// the boundaries, the agent field and the transfer encodings.
type mailer struct {
	agent    string // complete header field, without CRLF; may be empty
	id       func(rng *rand.Rand, date time.Time, domain string) string
	boundary func(rng *rand.Rand) string
	textCTE  []string // transfer encodings for UTF-8 text
	htmlCTE  []string
	preamble string
}

const alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func randString(rng *rand.Rand, set string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = set[rng.IntN(len(set))]
	}
	return string(b)
}

var mailers = []mailer{
	{
		agent: "User-Agent: Mozilla Thunderbird",
		id: func(rng *rand.Rand, _ time.Time, domain string) string {
			return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x@%s", rng.Uint32(), rng.IntN(1<<16),
				0x4000|rng.IntN(1<<12), 0x8000|rng.IntN(1<<14), rng.Uint64()>>16, domain)
		},
		boundary: func(rng *rand.Rand) string { return "------------" + randString(rng, alnum, 24) },
		textCTE:  []string{"8bit", "quoted-printable"},
		htmlCTE:  []string{"quoted-printable"},
		preamble: "This is a multi-part message in MIME format.",
	},
	{
		agent: "X-Mailer: Microsoft Outlook 16.0",
		id: func(rng *rand.Rand, _ time.Time, domain string) string {
			return fmt.Sprintf("%012x$%08x$%08x$@%s", rng.Uint64()>>16, rng.Uint32(), rng.Uint32(), domain)
		},
		boundary: func(rng *rand.Rand) string {
			return fmt.Sprintf("----=_NextPart_000_%04X_%08X.%08X", rng.IntN(1<<16), rng.Uint32(), rng.Uint32())
		},
		textCTE:  []string{"quoted-printable"},
		htmlCTE:  []string{"quoted-printable"},
		preamble: "This is a multipart message in MIME format.",
	},
	{
		agent: "User-Agent: Roundcube Webmail/1.6.6",
		id: func(rng *rand.Rand, _ time.Time, domain string) string {
			return fmt.Sprintf("%016x%016x@%s", rng.Uint64(), rng.Uint64(), domain)
		},
		boundary: func(rng *rand.Rand) string { return "=_" + randString(rng, "0123456789abcdef", 32) },
		textCTE:  []string{"quoted-printable", "base64"},
		htmlCTE:  []string{"quoted-printable"},
	},
	{
		id: func(rng *rand.Rand, _ time.Time, _ string) string {
			return "CA" + randString(rng, alnum+"+_-", 44) + "@mail.example.com"
		},
		boundary: func(rng *rand.Rand) string { return "000000000000" + randString(rng, "0123456789abcdef", 16) },
		textCTE:  []string{"quoted-printable", "base64"},
		htmlCTE:  []string{"quoted-printable", "base64"},
	},
	{
		agent: "X-Mailer: System Obiegu Dokumentów 7.2",
		id: func(rng *rand.Rand, date time.Time, domain string) string {
			return fmt.Sprintf("%d.%d.%d.JavaMail.sod@%s", rng.IntN(1<<20), rng.IntN(1<<16), date.UnixMilli(), domain)
		},
		boundary: func(rng *rand.Rand) string {
			return fmt.Sprintf("----=_Part_%d_%d.%d", rng.IntN(100000), rng.Uint32()>>1, rng.Int64N(1<<41))
		},
		textCTE: []string{"quoted-printable", "base64"},
		htmlCTE: []string{"base64"},
	},
}

// agentField returns the mailer's agent header field with its CRLF, after
// replacing characters that may not appear raw in a header.
func (m mailer) agentField(st textStyle) string {
	if m.agent == "" {
		return ""
	}
	name, value, _ := strings.Cut(m.agent, ": ")
	return field(name, st.tokens(value)...)
}

// dateLayouts are the Date formats mailers write.
var dateLayouts = []string{
	"Mon, 02 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04:05 -0700",
}

var (
	cet  = time.FixedZone("CET", 3600)
	cest = time.FixedZone("CEST", 2*3600)
)

// polishTime returns t in Polish civil time: summer time runs from 01:00
// UTC on the last Sunday of March to 01:00 UTC on the last Sunday of
// October.
func polishTime(t time.Time) time.Time {
	y := t.Year()
	if !t.Before(lastSunday(y, time.March)) && t.Before(lastSunday(y, time.October)) {
		return t.In(cest)
	}
	return t.In(cet)
}

func lastSunday(year int, month time.Month) time.Time {
	d := time.Date(year, month+1, 1, 1, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	return d.AddDate(0, 0, -int(d.Weekday()))
}
