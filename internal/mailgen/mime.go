package mailgen

import (
	"bytes"
	"encoding/base64"
	"mime/quotedprintable"
)

// part is a MIME entity: header fields, then either an encoded body or
// sub-parts between boundaries. fields[0] is always its Content-Type.
type part struct {
	fields   []string // rendered fields, each ending in CRLF
	body     []byte   // encoded body, lines ending in CRLF
	boundary string
	preamble string
	parts    []*part
}

func (p *part) write(b *bytes.Buffer) {
	for _, f := range p.fields {
		b.WriteString(f)
	}
	b.WriteString("\r\n")
	p.writeBody(b)
}

func (p *part) writeBody(b *bytes.Buffer) {
	if p.boundary == "" {
		b.Write(p.body)
		return
	}
	b.WriteString(p.preamble)
	for i, c := range p.parts {
		if i > 0 || p.preamble != "" {
			b.WriteString("\r\n")
		}
		b.WriteString("--" + p.boundary + "\r\n")
		c.write(b)
	}
	b.WriteString("\r\n--" + p.boundary + "--\r\n")
}

// multipart makes a multipart entity of the given subtype.
func multipart(subtype, boundary string, parts ...*part) *part {
	return &part{
		fields:   []string{field("Content-Type", params("multipart/"+subtype, `boundary="`+boundary+`"`)...)},
		boundary: boundary,
		parts:    parts,
	}
}

// textPart makes a text entity of text with LF line ends, written in cs and
// cte.
func textPart(subtype string, cs textCharset, cte, text string) *part {
	ct := params("text/"+subtype, "charset="+cs.label)
	return &part{
		fields: []string{
			field("Content-Type", ct...),
			field("Content-Transfer-Encoding", cte),
		},
		body: encodeText(cs.encode(cs.localize(text)), cte),
	}
}

// encodeText applies a transfer encoding to text with LF line ends.
func encodeText(raw []byte, cte string) []byte {
	switch cte {
	case "quoted-printable":
		var b bytes.Buffer
		w := quotedprintable.NewWriter(&b)
		w.Write(raw)
		w.Close()
		if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
			b.WriteString("\r\n")
		}
		return b.Bytes()
	case "base64":
		return encodeBase64(crlf(raw))
	}
	return crlf(raw)
}

// encodeBase64 writes data as base64 lines of 76 characters.
func encodeBase64(data []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	var b bytes.Buffer
	b.Grow(len(enc) + len(enc)/38 + 2)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return b.Bytes()
}

func crlf(raw []byte) []byte {
	return bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))
}
