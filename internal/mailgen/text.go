package mailgen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// filler expands template slots with values that fit a message sent at date.
type filler struct {
	rng  *rand.Rand
	date time.Time
}

func (f filler) fill(t string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			b.WriteString(t)
			return b.String()
		}
		j := strings.IndexByte(t[i:], '}')
		b.WriteString(t[:i])
		b.WriteString(f.slot(t[i+1 : i+j]))
		t = t[i+j+1:]
	}
}

// slot returns one value for a template slot.
func (f filler) slot(name string) string {
	r := f.rng
	y, m := f.date.Year(), int(f.date.Month())
	switch name {
	case "invoice":
		return fmt.Sprintf("FV/%d/%02d/%03d", y, m, 1+r.IntN(400))
	case "correction":
		return fmt.Sprintf("FK/%d/%02d/%02d", y, m, 1+r.IntN(40))
	case "order":
		return fmt.Sprintf("ZAM/%d/%04d", y, 1+r.IntN(3000))
	case "contract":
		return fmt.Sprintf("UM/%d/%d", 1+r.IntN(120), y)
	case "wz":
		return fmt.Sprintf("WZ/%02d%02d/%d", m, 1+r.IntN(99), y)
	case "file":
		return fmt.Sprintf("%d_%02d_%03d", y, m, 1+r.IntN(400))
	case "small":
		return strconv.Itoa(1 + r.IntN(9))
	case "quarter":
		return quarters[(m-1)/3]
	case "weekday":
		return pick(r, weekdays)
	case "hour":
		return fmt.Sprintf("%d:%02d", 8+r.IntN(8), 15*r.IntN(4))
	case "city":
		return pick(r, cities).name
	case "inCity":
		return pick(r, cities).in
	case "street":
		return pick(r, streets)
	case "person":
		return newPerson(r, home).name
	case "woman", "man":
		return fullName(r, name == "woman")
	case "parcel":
		return fmt.Sprintf("6%05d%06d", r.IntN(100000), r.IntN(1000000))
	case "monthName":
		return monthNames[m-1]
	case "year":
		return strconv.Itoa(y)
	case "date":
		return f.date.AddDate(0, 0, r.IntN(30)).Format("02.01.2006")
	case "amount":
		return formatAmount(r.Int64N(5_000_000)+1000) + " zł"
	case "capital":
		return formatAmount(int64(5+r.IntN(500))*1_000_000) + " zł"
	case "days":
		return pick(r, []string{"7", "14", "21", "30", "60"})
	case "pct":
		return strconv.Itoa(2 + r.IntN(24))
	case "phone":
		return fmt.Sprintf("+48 %d %03d %02d %02d", 12+r.IntN(80), r.IntN(1000), r.IntN(100), r.IntN(100))
	case "nip":
		return fmt.Sprintf("%03d-%03d-%02d-%02d", 100+r.IntN(900), r.IntN(1000), r.IntN(100), r.IntN(100))
	case "krs":
		return fmt.Sprintf("%010d", r.IntN(1_000_000))
	}
	panic("mailgen: unknown template slot " + name)
}

// formatAmount writes grosze as Polish money: "12 345,67".
func formatAmount(grosze int64) string {
	zl := strconv.FormatInt(grosze/100, 10)
	var b strings.Builder
	for i, c := range zl {
		if i > 0 && (len(zl)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return fmt.Sprintf("%s,%02d", b.String(), grosze%100)
}

// paragraph joins a few filled sentences.
func (f filler) paragraph() string {
	n := 1 + f.rng.IntN(4)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = f.fill(pick(f.rng, sentences))
	}
	return strings.Join(parts, " ")
}

// padding returns paragraphs of about n bytes of UTF-8 text. The text for a
// smaller n is a prefix of the text for a larger one with the same seed.
func padding(seed uint64, date time.Time, n int) []string {
	if n <= 0 {
		return nil
	}
	f := filler{rng: rand.New(rand.NewPCG(seed, 0x70616464)), date: date}
	var out []string
	for n > 0 {
		p := f.paragraph()
		if len(p) > n {
			p = cutWords(p, n)
			if p == "" {
				break
			}
		}
		out = append(out, p)
		n -= len(p) + 2
	}
	return out
}

// cutWords shortens s to at most n bytes, at a word boundary.
func cutWords(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if i := strings.LastIndexByte(s[:n], ' '); i > 0 {
		return s[:i]
	}
	return ""
}

// wrap breaks a paragraph into lines of at most width characters.
func wrap(p string, width int) []string {
	var lines []string
	var cur strings.Builder
	n := 0
	for _, w := range strings.Fields(p) {
		wl := utf8.RuneCountInString(w)
		if n > 0 && n+1+wl > width {
			lines = append(lines, cur.String())
			cur.Reset()
			n = 0
		}
		if n > 0 {
			cur.WriteByte(' ')
			n++
		}
		cur.WriteString(w)
		n += wl
	}
	if n > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

// signature returns the lines under a letter, sometimes with a footer.
func signature(rng *rand.Rand, p person, footer bool) []string {
	var lines []string
	if p.name != "" && !strings.Contains(p.name, p.companyName()) {
		lines = append(lines, p.name)
		if p.position != "" {
			lines = append(lines, p.position)
		}
	}
	c := p.company
	if c == nil {
		return lines
	}
	f := filler{rng: rng}
	lines = append(lines,
		c.name,
		fmt.Sprintf("ul. %s %d, %02d-%03d %s", c.street, 1+rng.IntN(120), rng.IntN(100), rng.IntN(1000), cities[c.city].name),
		"tel. "+f.slot("phone"),
		"www."+c.domain,
	)
	if footer && rng.IntN(3) == 0 {
		lines = append(lines, "", f.fill(pick(rng, footers)))
	}
	return lines
}

func (p person) companyName() string {
	if p.company == nil {
		return "\x00"
	}
	return p.company.name
}
