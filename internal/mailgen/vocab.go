package mailgen

// Vocabulary of the office mail of a Polish company. Templates name slots in
// braces; fillTemplate in text.go expands them.

// subjectTemplates are ordinary subjects, most under one line.
var subjectTemplates = []string{
	"Faktura VAT nr {invoice}",
	"Faktura korygująca nr {correction} do faktury {invoice}",
	"Zamówienie nr {order} – potwierdzenie przyjęcia",
	"Zamówienie {order}: zmiana terminu dostawy",
	"Umowa nr {contract} – wersja do podpisu",
	"Aneks nr {small} do umowy {contract}",
	"Spotkanie w sprawie budżetu na {quarter} kwartał",
	"Spotkanie zespołu – {weekday} {hour}",
	"Oferta handlowa: dostawa materiałów biurowych",
	"Oferta na usługi sprzątania biura – {city}",
	"Przypomnienie o płatności za fakturę {invoice}",
	"Protokół odbioru robót – {city}, ul. {street}",
	"Wniosek urlopowy – {person}",
	"Zaproszenie: szkolenie BHP dla pracowników biura",
	"Zestawienie kosztów delegacji – {city}",
	"Rozliczenie zaliczki za {monthName}",
	"Harmonogram dostaw na {monthName} {year}",
	"Dokument {wz} – brak podpisu",
	"Reklamacja towaru z dostawy {wz}",
	"Wezwanie do zapłaty – należność {amount}",
	"Potwierdzenie salda na dzień {date}",
	"Cennik obowiązujący od {date}",
	"Prośba o przesłanie oryginału faktury",
	"Zmiana danych do faktury – nowy NIP",
	"Odbiór dokumentów z sekretariatu",
	"Ważne: zmiana godzin pracy biura w {city}",
	"Pełnomocnictwo dla {person}",
	"Świadectwo pracy – {person}",
	"Ćwiczenia ewakuacyjne {date}",
	"Źródło rozbieżności w raporcie kasowym",
	"Żądanie zwrotu dokumentów księgowych",
	"Ósma edycja konkursu dla dostawców",
	"Łączna wartość zamówień w {monthName}",
	"Środki czystości – zapotrzebowanie na {monthName}",
	"PILNE: ZAŁĄCZNIK DO UMOWY {contract}",
	"ŻĄDANIE KOREKTY – BŁĘDNA KWOTA NA FAKTURZE {invoice}",
	"BRAK POTWIERDZEŃ ODBIORU – PŁATNOŚĆ WSTRZYMANA",
	"ŚWIĘTA: ZMIANA TERMINÓW ŹRÓDŁOWYCH ZESTAWIEŃ",
	"Nota księgowa nr {small}/{year}",
	"Inwentaryzacja magazynu {inCity}",
}

// longSubjectTemplates run well past one header line and are folded.
var longSubjectTemplates = []string{
	"Zaproszenie do złożenia oferty na dostawę materiałów biurowych i środków czystości dla oddziału {inCity} na rok {year}",
	"Prośba o pilne uzupełnienie dokumentacji przetargowej – brakujące zaświadczenia z ZUS i urzędu skarbowego dla zamówienia {order}",
	"Informacja o zmianie rachunku bankowego oraz danych kontaktowych działu księgowości w związku z przeniesieniem siedziby spółki",
	"Podsumowanie spotkania z dnia {date}: ustalenia dotyczące harmonogramu wdrożenia elektronicznego obiegu dokumentów w firmie",
	"Ostateczne wezwanie do zapłaty zaległych należności wynikających z faktur {invoice} oraz {invoice} wraz z odsetkami ustawowymi",
	"ŻÓŁTA KARTKA DLA DOSTAWCY: OPÓŹNIENIA W REALIZACJI ZAMÓWIEŃ ŚRODKÓW OCHRONY OSOBISTEJ I ŁĄCZNE KARY UMOWNE",
}

// greetings open a letter.
var greetings = []string{
	"Dzień dobry,",
	"Dzień dobry Pani,",
	"Dzień dobry Panu,",
	"Szanowni Państwo,",
	"Szanowna Pani,",
	"Szanowny Panie,",
	"Witam,",
	"Cześć,",
}

// closings end a letter, above the signature.
var closings = []string{
	"Z poważaniem,",
	"Pozdrawiam serdecznie,",
	"Pozdrawiam,",
	"Z wyrazami szacunku,",
	"Łączę pozdrowienia,",
	"Dziękuję i pozdrawiam,",
}

// sentences make up paragraphs.
var sentences = []string{
	"W załączeniu przesyłam fakturę nr {invoice} do akceptacji.",
	"Proszę o potwierdzenie otrzymania dokumentów do dnia {date}.",
	"Termin płatności wynosi {days} dni od daty wystawienia faktury.",
	"Kwota do zapłaty to {amount} brutto.",
	"Spotkanie odbędzie się w sali konferencyjnej na {small} piętrze, {weekday} o godzinie {hour}.",
	"Uprzejmie informuję, że zamówienie nr {order} zostało przekazane do realizacji.",
	"Dostawa do magazynu {inCity} planowana jest na {date}.",
	"Ze względu na zmianę cennika od {date} ceny wzrosną o {pct}%.",
	"W razie pytań proszę o kontakt telefoniczny pod numerem {phone}.",
	"Czy mogłaby Pani przesłać skan podpisanej umowy?",
	"Czy mógłby Pan potwierdzić termin spotkania?",
	"Zwracam uwagę na błędny numer NIP na fakturze – powinien być {nip}.",
	"Dziękuję za szybką odpowiedź i owocną współpracę.",
	"Oryginał dokumentu wyślemy pocztą kurierską.",
	"Proszę o zaksięgowanie dokumentu w bieżącym miesiącu.",
	"Łączna wartość zamówienia przekracza próg, więc wymagana jest zgoda zarządu.",
	"Źródłem rozbieżności jest podwójnie naliczona opłata transportowa.",
	"Żaden z dokumentów nie został jeszcze podpisany przez drugą stronę.",
	"Ósmego dnia każdego miesiąca generujemy zestawienie należności.",
	"Ćwiczenia ewakuacyjne zaplanowano na {date}, proszę o obecność.",
	"Śląski oddział potwierdził odbiór towaru bez zastrzeżeń.",
	"Na fakturze brakuje numeru zamówienia {order}, bez którego nie możemy jej zaksięgować.",
	"Umowa {contract} wymaga kontrasygnaty głównej księgowej.",
	"Pani {woman} jest na urlopie do {date}, w zastępstwie proszę pisać do mnie.",
	"Pan {man} prosił o przekazanie, że dokumenty są gotowe do odbioru.",
	"Przesyłam poprawioną wersję oferty z uwzględnieniem rabatu {pct}%.",
	"Prosimy o dostarczenie towaru w godzinach pracy magazynu, czyli od 7:00 do 15:00.",
	"Paczka została nadana dzisiaj, numer przesyłki to {parcel}.",
	"Zgodnie z ustaleniami telefonicznymi przesuwamy termin odbioru o tydzień.",
	"Według naszych ksiąg saldo na dzień {date} wynosi {amount}.",
	"Dokument {wz} nie zawiera podpisu osoby odbierającej.",
	"Zaległość wobec naszej firmy wynosi obecnie {amount}.",
	"Proszę o informację, czy możemy liczyć na dostawę jeszcze w tym tygodniu.",
	"Wydział księgowości zwraca się z prośbą o uzupełnienie opisu merytorycznego faktury.",
	"Szkolenie poprowadzi {person}, a lista obecności będzie dostępna w sekretariacie.",
	"Zmiana dotyczy wszystkich oddziałów, w tym biura {inCity}.",
	"Wszelkie uwagi do projektu umowy proszę zgłaszać do piątku.",
	"Reklamowany towar odbierze kurier firmy transportowej w ciągu {days} dni roboczych.",
	"Potwierdzam rezerwację sali na {weekday}, {hour}.",
	"Niestety system nie pozwala wystawić korekty bez numeru pierwotnej faktury.",
	"Wyciąg bankowy potwierdza wpłatę {amount} w dniu {date}.",
	"Będę wdzięczna za przekazanie tej informacji pozostałym osobom z zespołu.",
	"Będę wdzięczny za odpowiedź jeszcze dzisiaj.",
	"Zestawienie godzin nadliczbowych za {monthName} znajduje się w załączniku.",
	"Proszę nie odpowiadać na tę wiadomość, jeśli dokumenty zostały już wysłane.",
	"Drukarka na drugim piętrze znowu zgłasza błąd podajnika papieru.",
}

// quarters are roman quarter numbers.
var quarters = []string{"I", "II", "III", "IV"}

// monthNames are nominative month names, January first.
var monthNames = []string{
	"styczeń", "luty", "marzec", "kwiecień", "maj", "czerwiec",
	"lipiec", "sierpień", "wrzesień", "październik", "listopad", "grudzień",
}

// weekdays are "on <day>" phrases, Monday to Friday.
var weekdays = []string{"w poniedziałek", "we wtorek", "w środę", "w czwartek", "w piątek"}

// city is a Polish city in the nominative and in the locative after "w".
type city struct{ name, in string }

var cities = []city{
	{"Warszawa", "w Warszawie"}, {"Kraków", "w Krakowie"}, {"Łódź", "w Łodzi"},
	{"Wrocław", "we Wrocławiu"}, {"Poznań", "w Poznaniu"}, {"Gdańsk", "w Gdańsku"},
	{"Szczecin", "w Szczecinie"}, {"Lublin", "w Lublinie"}, {"Białystok", "w Białymstoku"},
	{"Katowice", "w Katowicach"}, {"Toruń", "w Toruniu"}, {"Rzeszów", "w Rzeszowie"},
	{"Kielce", "w Kielcach"}, {"Olsztyn", "w Olsztynie"}, {"Opole", "w Opolu"},
	{"Zielona Góra", "w Zielonej Górze"}, {"Bielsko-Biała", "w Bielsku-Białej"},
	{"Częstochowa", "w Częstochowie"}, {"Łomża", "w Łomży"}, {"Żyrardów", "w Żyrardowie"},
	{"Świdnica", "w Świdnicy"}, {"Płock", "w Płocku"}, {"Elbląg", "w Elblągu"},
	{"Ełk", "w Ełku"}, {"Siedlce", "w Siedlcach"}, {"Gorzów Wielkopolski", "w Gorzowie Wielkopolskim"},
}

var streets = []string{
	"Łąkowa", "Żeromskiego", "Świętokrzyska", "Źródlana", "Piłsudskiego",
	"Gdańska", "Ogrodowa", "Kościuszki", "Ściegiennego", "Żwirki i Wigury",
	"Mickiewicza", "Długa", "Słoneczna", "Grunwaldzka", "Wiślana",
}

// positions are job titles for signatures.
var positions = []string{
	"Kierownik działu zakupów", "Główna księgowa", "Specjalista ds. logistyki",
	"Asystentka zarządu", "Starszy specjalista ds. kadr i płac", "Radca prawny",
	"Dyrektor handlowy", "Koordynator projektu", "Specjalistka ds. rozliczeń",
	"Kierownik magazynu", "Prezes zarządu", "Referent ds. obsługi klienta",
}

// footers are legal and confidentiality notes under some signatures.
var footers = []string{
	"Treść tej wiadomości jest poufna i przeznaczona wyłącznie dla adresata. Jeżeli nie jest Pan/Pani adresatem, prosimy o powiadomienie nadawcy i usunięcie wiadomości.",
	"Spółka wpisana do rejestru przedsiębiorców Krajowego Rejestru Sądowego prowadzonego przez Sąd Rejonowy, XII Wydział Gospodarczy, KRS {krs}, NIP {nip}, kapitał zakładowy {capital}.",
	"Zanim wydrukujesz tę wiadomość, pomyśl o środowisku.",
}

// goods are line items of orders and invoices.
var goods = []string{
	"Papier ksero A4 80 g", "Segregator A4 75 mm", "Długopis żelowy niebieski",
	"Toner do drukarki laserowej", "Kawa ziarnista 1 kg", "Zszywacz biurowy",
	"Teczka z gumką", "Koperty C4 samoprzylepne", "Środek do czyszczenia ekranów",
	"Krzesło obrotowe", "Żarówka LED E27", "Łącznik kablowy", "Ściereczki z mikrofibry",
	"Notes samoprzylepny żółty", "Dziurkacz dwuotworowy", "Etykiety samoprzylepne",
}

// attachmentNames are base file names, without extension.
var attachmentNames = []string{
	"Faktura_{file}", "Zamówienie_{file}", "Umowa_najmu_Łódź", "Protokół odbioru",
	"Zestawienie_zamówień_{monthName}", "Oferta_handlowa_Żółkiewski", "Wniosek_urlopowy",
	"Zdjęcie_uszkodzenia_przesyłki", "Pełnomocnictwo_ŚWIĄTEK", "Cennik_{year}_ważny_od_{file}",
	"Aneks do umowy – wersja ostateczna", "Raport_kasowy_źródłowy",
}
