package mailgen

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"strings"
)

// attachment is a file attached to a message.
type attachment struct {
	filename  string // decoded, as the reader sees it
	mediaType string
	charset   *textCharset // for text types
	data      []byte
}

// newAttachment makes a PDF-like, CSV or PNG file of about size bytes, named
// in the header charset of st.
func newAttachment(f filler, st textStyle, size int) attachment {
	rng := f.rng
	base := st.codec.cs.localize(f.fill(pick(rng, attachmentNames)))
	switch rng.IntN(3) {
	case 0:
		return attachment{filename: base + ".pdf", mediaType: "application/pdf", data: fakePDF(rng, size)}
	case 1:
		cs := pick(rng, []textCharset{csUTF8, csCP1250}).spelled(rng)
		return attachment{filename: base + ".csv", mediaType: "text/csv", charset: &cs, data: cs.encode(cs.localize(fakeCSV(rng, size)))}
	}
	return attachment{filename: base + ".png", mediaType: "image/png", data: noisePNG(rng, size)}
}

// part renders the attachment, naming it the way one of the common mailers
// does: RFC 2231 parameters, RFC 2047 words inside quotes, or both.
func (a attachment) part(rng *rand.Rand, st textStyle) *part {
	ctParams := []string{}
	if a.charset != nil {
		ctParams = append(ctParams, "charset="+a.charset.label)
	}
	var disp []string
	quoted := func(name string) string {
		if isASCII(a.filename) {
			return name + "=" + quoteString(a.filename)
		}
		return name + `="` + strings.Join(st.codec.words(a.filename), " ") + `"`
	}
	switch {
	case isASCII(a.filename):
		disp = []string{quoted("filename")}
	case rng.IntN(3) == 0:
		disp = rfc2231("filename", a.filename)
	case rng.IntN(2) == 0:
		ctParams = append(ctParams, quoted("name"))
		disp = []string{quoted("filename")}
	default:
		ctParams = append(ctParams, quoted("name"))
		disp = rfc2231("filename", a.filename)
	}
	return &part{
		fields: []string{
			field("Content-Type", params(a.mediaType, ctParams...)...),
			field("Content-Disposition", params("attachment", disp...)...),
			field("Content-Transfer-Encoding", "base64"),
		},
		body: encodeBase64(a.data),
	}
}

// fakePDF returns a file that starts and ends like a one-page PDF, with a
// stream of random bytes.
func fakePDF(rng *rand.Rand, size int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	b.WriteString("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	b.WriteString("2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n")
	b.WriteString("3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>\nendobj\n")
	n := max(size-b.Len()-120, 16)
	fmt.Fprintf(&b, "4 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n", n)
	b.Write(randomBytes(rng, n))
	b.WriteString("\nendstream\nendobj\ntrailer\n<< /Root 1 0 R /Size 5 >>\n%%EOF\n")
	return b.Bytes()
}

func randomBytes(rng *rand.Rand, n int) []byte {
	out := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for j := i; j < min(i+8, n); j++ {
			out[j] = byte(v)
			v >>= 8
		}
	}
	return out
}

// fakeCSV returns an order listing of about size bytes, as exported by a
// spreadsheet with Polish settings.
func fakeCSV(rng *rand.Rand, size int) string {
	var b strings.Builder
	b.WriteString("Lp.;Nazwa towaru;Ilość;J.m.;Cena netto;Wartość netto;Stawka VAT\n")
	for i := 1; b.Len() < size; i++ {
		qty := 1 + rng.IntN(200)
		price := int64(50 + rng.IntN(50000))
		fmt.Fprintf(&b, "%d;%s;%d;szt.;%s;%s;23%%\n", i, pick(rng, goods), qty,
			formatAmount(price), formatAmount(price*int64(qty)))
	}
	return b.String()
}

// noisePNG returns a real PNG image of random pixels of about size bytes.
func noisePNG(rng *rand.Rand, size int) []byte {
	side := max(int(math.Sqrt(float64(size)/3)), 4)
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			v := rng.Uint32()
			img.Set(x, y, color.RGBA{R: uint8(v), G: uint8(v >> 8), B: uint8(v >> 16), A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic("mailgen: encoding PNG: " + err.Error())
	}
	return b.Bytes()
}
