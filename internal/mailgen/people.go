package mailgen

import (
	"fmt"
	"math/rand/v2"
	"net/mail"
	"strings"
)

// person is a correspondent: a decoded display name (possibly empty) and an
// address.
type person struct {
	name     string
	addr     string
	position string
	company  *company
}

// company is an organisation with a mail domain. Every domain sits under a
// reserved test domain.
type company struct {
	name   string
	domain string
	city   int    // index into cities
	street string // street name
}

// home is the company whose mailbox is filled.
var home = &company{name: "Zorza Dokumenty Sp. z o.o.", domain: "zorza.example.test", city: 0, street: "Świętokrzyska"}

var partners = []*company{
	{name: "Budmax Sp. z o.o.", domain: "budmax.example.com", city: 2, street: "Łąkowa"},
	{name: "Kancelaria Radcy Prawnego Ewa Nowak", domain: "kancelaria-nowak.example.org", city: 1, street: "Długa"},
	{name: "Drukarnia Łódzka S.A.", domain: "drukarnia-lodzka.example.net", city: 2, street: "Piłsudskiego"},
	{name: "Hurtownia Papieru Żuraw", domain: "zuraw.example.com", city: 5, street: "Grunwaldzka"},
	{name: "Transport Śląsk Sp. j.", domain: "transport-slask.example.org", city: 9, street: "Kościuszki"},
	{name: "Biuro Rachunkowe Bilans", domain: "bilans.example.net", city: 4, street: "Ogrodowa"},
	{name: "Wydawnictwo Świt", domain: "swit.example.org", city: 3, street: "Słoneczna"},
	{name: "Geodezja Ćwikliński i Wspólnicy", domain: "geodezja.example.com", city: 11, street: "Źródlana"},
	{name: "Przedsiębiorstwo Handlowe Łączność", domain: "lacznosc.example.test", city: 20, street: "Wiślana"},
	{name: "Zakład Energetyczny Północ S.A.", domain: "zep.example.net", city: 5, street: "Gdańska"},
}

// departments are role mailboxes of a company, with a display name.
var departments = [][2]string{
	{"biuro", "Biuro"}, {"faktury", "Faktury"}, {"ksiegowosc", "Księgowość"},
	{"sekretariat", "Sekretariat"}, {"zamowienia", "Dział Zamówień"}, {"kadry", "Dział Kadr"},
}

var maleNames = []string{
	"Łukasz", "Paweł", "Michał", "Tomasz", "Krzysztof", "Piotr", "Andrzej",
	"Grzegorz", "Jarosław", "Zbigniew", "Mirosław", "Jacek", "Wojciech",
	"Bartłomiej", "Mikołaj", "Maciej", "Jan", "Stanisław", "Przemysław",
	"Radosław", "Józef", "Zdzisław", "Witold", "Sławomir", "Bogusław", "Adam",
}

var femaleNames = []string{
	"Małgorzata", "Agnieszka", "Katarzyna", "Joanna", "Anna", "Elżbieta",
	"Grażyna", "Beata", "Dorota", "Bożena", "Urszula", "Jadwiga", "Halina",
	"Żaneta", "Łucja", "Ewa", "Zofia", "Barbara", "Jolanta", "Iwona",
	"Bronisława", "Wiesława", "Ludmiła", "Ola",
}

// surnames are in the masculine form; feminineSurname derives the other.
var surnames = []string{
	"Żółkiewski", "Wiśniewski", "Kowalski", "Lewandowski", "Dąbrowski",
	"Zieliński", "Szymański", "Woźniak", "Kozłowski", "Jankowski", "Mazur",
	"Krawczyk", "Kaczmarek", "Piotrowski", "Grabowski", "Nowak", "Pawłowski",
	"Michalski", "Król", "Wieczorek", "Jabłoński", "Wróbel", "Stępień",
	"Malinowski", "Górski", "Bąk", "Włodarczyk", "Sokołowski", "Kaźmierczak",
	"Cieślak", "Głowacki", "Kołodziej", "Ziółkowski", "Ćwikliński",
	"Śliwiński", "Łukasiewicz", "Żak", "Źrałek", "Świątek", "Ślusarczyk",
}

func feminineSurname(s string) string {
	for _, suf := range []string{"ski", "cki", "dzki"} {
		if strings.HasSuffix(s, suf) {
			return strings.TrimSuffix(s, "i") + "a"
		}
	}
	return s
}

var asciiFold = strings.NewReplacer(
	"ą", "a", "ć", "c", "ę", "e", "ł", "l", "ń", "n", "ó", "o", "ś", "s", "ź", "z", "ż", "z",
	"Ą", "A", "Ć", "C", "Ę", "E", "Ł", "L", "Ń", "N", "Ó", "O", "Ś", "S", "Ź", "Z", "Ż", "Z",
)

// localPart turns a name into the ASCII local part of an address.
func localPart(s string) string {
	s = strings.ToLower(asciiFold.Replace(s))
	return strings.NewReplacer(" ", "", "-", "").Replace(s)
}

// names returns a first name and a surname.
func names(rng *rand.Rand, female bool) (first, last string) {
	if female {
		return pick(rng, femaleNames), feminineSurname(pick(rng, surnames))
	}
	return pick(rng, maleNames), pick(rng, surnames)
}

func fullName(rng *rand.Rand, female bool) string {
	first, last := names(rng, female)
	return first + " " + last
}

// newPerson makes a named employee of c.
func newPerson(rng *rand.Rand, c *company) person {
	first, last := names(rng, rng.IntN(2) == 0)
	var local string
	switch rng.IntN(4) {
	case 0:
		local = localPart(string([]rune(first)[:1])) + "." + localPart(last)
	case 1:
		local = localPart(first) + localPart(last)
	default:
		local = localPart(first) + "." + localPart(last)
	}
	return person{
		name:     first + " " + last,
		addr:     local + "@" + c.domain,
		position: pick(rng, positions),
		company:  c,
	}
}

// newDepartment makes a role mailbox of c, named or not.
func newDepartment(rng *rand.Rand, c *company) person {
	d := departments[rng.IntN(len(departments))]
	p := person{addr: d[0] + "@" + c.domain, company: c}
	switch rng.IntN(3) {
	case 0:
		p.name = d[1] + " " + c.name
	case 1:
		p.name = c.name
	}
	return p
}

// newCorrespondent makes a sender: mostly partners, some colleagues.
func newCorrespondent(rng *rand.Rand) person {
	c := home
	if rng.IntN(10) < 7 {
		c = pick(rng, partners)
	}
	if rng.IntN(6) == 0 {
		return newDepartment(rng, c)
	}
	return newPerson(rng, c)
}

// parsePerson reads an address given in Options.
func parsePerson(s string) (person, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return person{}, fmt.Errorf("mailgen: address %q: %w", s, err)
	}
	return person{name: a.Name, addr: a.Address}, nil
}

func pick[T any](rng *rand.Rand, l []T) T {
	return l[rng.IntN(len(l))]
}
