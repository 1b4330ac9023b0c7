package config

import (
	"fmt"
	"strconv"
	"strings"
)

type tokKind int

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokNumber
	tokPunct
	tokCloseTag
)

type token struct {
	kind tokKind
	text string
	line int
	// dynamic marks a double-quoted string or heredoc that contains a
	// variable, so only PHP can evaluate it.
	dynamic bool
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of file"
	case tokString:
		return strconv.Quote(t.text)
	case tokCloseTag:
		return "?>"
	}
	return t.text
}

// lexer splits PHP source into the few tokens that defines need. Text
// outside <?php ... ?> is skipped, because PHP prints it instead of running it.
type lexer struct {
	src    string
	pos    int
	line   int
	inCode bool
	// started is set after the first token. A source without any <? tag
	// is all code.
	started bool
}

func (l *lexer) next() (token, error) {
	if !l.started {
		l.started = true
		l.inCode = !strings.Contains(l.src, "<?")
	}
	for {
		if !l.inCode && !l.skipText() {
			return token{kind: tokEOF, line: l.line}, nil
		}
		if err := l.skipSpaceAndComments(); err != nil {
			return token{}, err
		}
		if l.pos >= len(l.src) {
			return token{kind: tokEOF, line: l.line}, nil
		}
		if strings.HasPrefix(l.src[l.pos:], "?>") {
			l.pos += 2
			l.inCode = false
			return token{kind: tokCloseTag, line: l.line}, nil
		}
		return l.token()
	}
}

// skipText skips text up to and including the next opening tag and
// reports whether one was found.
func (l *lexer) skipText() bool {
	i := strings.Index(l.src[l.pos:], "<?")
	if i < 0 {
		l.advance(len(l.src) - l.pos)
		return false
	}
	l.advance(i + 2)
	rest := l.src[l.pos:]
	if len(rest) >= 3 && strings.EqualFold(rest[:3], "php") {
		l.advance(3)
	} else if strings.HasPrefix(rest, "=") {
		l.advance(1)
	}
	l.inCode = true
	return true
}

// advance moves n bytes on, counting lines.
func (l *lexer) advance(n int) {
	l.line += strings.Count(l.src[l.pos:l.pos+n], "\n")
	l.pos += n
}

func (l *lexer) skipSpaceAndComments() error {
	for l.pos < len(l.src) {
		rest := l.src[l.pos:]
		switch {
		case strings.ContainsRune(" \t\r\n\f\v", rune(rest[0])):
			l.advance(1)
		case strings.HasPrefix(rest, "//") || rest[0] == '#':
			// A line comment ends at the newline or at ?>, as in PHP.
			end := len(rest)
			if i := strings.IndexByte(rest, '\n'); i >= 0 {
				end = i
			}
			if i := strings.Index(rest[:end], "?>"); i >= 0 {
				end = i
			}
			l.advance(end)
		case strings.HasPrefix(rest, "/*"):
			end := strings.Index(rest[2:], "*/")
			if end < 0 {
				return lineErrorf(l.line, "%w comment: /* without */", errUnterminated)
			}
			l.advance(end + 4)
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) token() (token, error) {
	rest := l.src[l.pos:]
	c := rest[0]
	switch {
	case c == '\'' || c == '"':
		return l.quoted(c)
	case strings.HasPrefix(rest, "<<<"):
		return l.heredoc()
	case isDigit(c):
		return l.number()
	case isIdentStart(c):
		n := 1
		for n < len(rest) && (isIdentStart(rest[n]) || isDigit(rest[n])) {
			n++
		}
		tok := token{kind: tokIdent, text: rest[:n], line: l.line}
		l.advance(n)
		return tok, nil
	}
	for _, op := range []string{"->", "::", "=>"} {
		if strings.HasPrefix(rest, op) {
			l.advance(2)
			return token{kind: tokPunct, text: op, line: l.line}, nil
		}
	}
	tok := token{kind: tokPunct, text: rest[:1], line: l.line}
	l.advance(1)
	return tok, nil
}

// lineError is an error at a line of the source.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

func lineErrorf(line int, format string, args ...any) error {
	return &lineError{line: line, err: fmt.Errorf(format, args...)}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// number reads an integer (decimal, 0x, 0b, 0o or leading-zero octal, with
// _ separators) or a decimal fraction, and returns it in decimal.
func (l *lexer) number() (token, error) {
	rest := l.src[l.pos:]
	n := 0
	for n < len(rest) && (isDigit(rest[n]) || isIdentStart(rest[n]) || rest[n] == '.' ||
		(rest[n] == '-' || rest[n] == '+') && n > 0 && (rest[n-1] == 'e' || rest[n-1] == 'E')) {
		n++
	}
	text := rest[:n]
	line := l.line
	l.advance(n)
	if i, err := strconv.ParseInt(text, 0, 64); err == nil {
		return token{kind: tokNumber, text: strconv.FormatInt(i, 10), line: line}, nil
	}
	if f, err := strconv.ParseFloat(strings.ReplaceAll(text, "_", ""), 64); err == nil && !strings.ContainsAny(text, "xXbBoO") {
		return token{kind: tokNumber, text: strconv.FormatFloat(f, 'f', -1, 64), line: line}, nil
	}
	return token{}, lineErrorf(line, "malformed number %q", text)
}

// quoted reads a single- or double-quoted string with PHP's escapes.
func (l *lexer) quoted(q byte) (token, error) {
	line := l.line
	var b strings.Builder
	dynamic := false
	i := l.pos + 1
	for ; i < len(l.src) && l.src[i] != q; i++ {
		c := l.src[i]
		if c == '$' && q == '"' && i+1 < len(l.src) && (isIdentStart(l.src[i+1]) || l.src[i+1] == '{') {
			dynamic = true
		}
		if c != '\\' || i+1 >= len(l.src) {
			b.WriteByte(c)
			continue
		}
		e := l.src[i+1]
		if q == '\'' {
			if e == '\'' || e == '\\' {
				b.WriteByte(e)
				i++
			} else {
				b.WriteByte(c)
			}
			continue
		}
		if r, ok := doubleEscapes[e]; ok {
			b.WriteByte(r)
			i++
		} else {
			b.WriteByte(c)
		}
	}
	if i >= len(l.src) {
		return token{}, lineErrorf(line, "%w string: no closing %c", errUnterminated, q)
	}
	l.advance(i + 1 - l.pos)
	return token{kind: tokString, text: b.String(), line: line, dynamic: dynamic}, nil
}

var doubleEscapes = map[byte]byte{
	'n': '\n', 't': '\t', 'r': '\r', 'v': '\v', 'f': '\f', 'e': 0x1b,
	'\\': '\\', '$': '$', '"': '"',
}

// heredoc reads <<<ID ... ID and <<<'ID' ... ID (a nowdoc).
func (l *lexer) heredoc() (token, error) {
	line := l.line
	rest := l.src[l.pos+3:]
	eol := strings.IndexByte(rest, '\n')
	if eol < 0 {
		return token{}, lineErrorf(line, "%w heredoc: no body", errUnterminated)
	}
	label := strings.TrimSpace(rest[:eol])
	nowdoc := strings.HasPrefix(label, "'")
	label = strings.Trim(label, `'"`)
	body := rest[eol+1:]
	offset := 0
	for {
		lineEnd := strings.IndexByte(body[offset:], '\n')
		current := body[offset:]
		if lineEnd >= 0 {
			current = body[offset : offset+lineEnd]
		}
		trimmed := strings.TrimLeft(current, " \t")
		if label != "" && strings.HasPrefix(trimmed, label) &&
			(len(trimmed) == len(label) || !isIdentStart(trimmed[len(label)]) && !isDigit(trimmed[len(label)])) {
			text := strings.TrimSuffix(body[:offset], "\n")
			end := offset + (len(current) - len(trimmed)) + len(label)
			l.advance(3 + eol + 1 + end)
			return token{kind: tokString, text: text, line: line, dynamic: !nowdoc && strings.Contains(text, "$")}, nil
		}
		if lineEnd < 0 {
			return token{}, lineErrorf(line, "%w heredoc: no closing %s", errUnterminated, label)
		}
		offset += lineEnd + 1
	}
}
