package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Define is one define('NAME', value); of a PHP configuration file.
type Define struct {
	Name  string
	Value string
	Line  int
}

// ReadPHPInc reads the defines of a PHP configuration file such as the old
// system's config.inc. See ParsePHPInc.
func ReadPHPInc(path string, known func(name string) bool) ([]Define, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	defs, err := ParsePHPInc(string(data), known)
	if err != nil {
		return defs, fmt.Errorf("config file %s: %w", path, err)
	}
	return defs, nil
}

// ParsePHPInc returns the define('NAME', value); calls of a PHP source.
// Comments (//, #, /* */), the <?php and ?> tags and every other statement
// are skipped. When known is not nil, only the defines it accepts are
// evaluated and returned. The others only need balanced parentheses, so an
// unrelated define with an array or an expression does no harm.
//
// A value is a quoted string, a number, a product of whole numbers such as
// 10*60, true or false. The error lists every malformed define with its
// line.
func ParsePHPInc(src string, known func(name string) bool) ([]Define, error) {
	p := &phpParser{lex: lexer{src: src, line: 1}}
	var defs []Define
	var errs []error
	for {
		tok, err := p.next()
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, errUnterminated) {
				break
			}
			continue
		}
		if tok.kind == tokEOF {
			break
		}
		if tok.kind != tokIdent || !strings.EqualFold(tok.text, "define") || p.prevMember {
			p.prevMember = tok.kind == tokPunct && (tok.text == "->" || tok.text == "::") ||
				tok.kind == tokIdent && strings.EqualFold(tok.text, "function")
			continue
		}
		def, ok, err := p.define(tok.line, known)
		if err != nil {
			var lineErr *lineError
			if !errors.As(err, &lineErr) {
				err = &lineError{line: tok.line, err: err}
			}
			errs = append(errs, err)
			if errors.Is(err, errUnterminated) {
				break
			}
			continue
		}
		if ok {
			defs = append(defs, def)
		}
	}
	return defs, errors.Join(errs...)
}

var errUnterminated = errors.New("unterminated")

type phpParser struct {
	lex lexer
	// unread is a token given back by statementEnd, read again next.
	unread *token
	// prevMember is set after ->, :: and "function", where "define" is a
	// method or a function being declared, not a call.
	prevMember bool
}

func (p *phpParser) next() (token, error) {
	if t := p.unread; t != nil {
		p.unread = nil
		return *t, nil
	}
	return p.lex.next()
}

// define parses the rest of a define call after its name. ok is false for
// a define that known rejects or whose name is not a literal.
func (p *phpParser) define(line int, known func(string) bool) (Define, bool, error) {
	if tok, err := p.next(); err != nil {
		return Define{}, false, err
	} else if tok.text != "(" {
		return Define{}, false, fmt.Errorf("malformed define: expected ( after define, got %s", tok)
	}
	args, err := p.arguments()
	if err != nil {
		return Define{}, false, err
	}
	if len(args) < 2 || len(args) > 3 {
		return Define{}, false, fmt.Errorf("malformed define: expected define('NAME', value), got %d arguments", len(args))
	}
	if len(args[0]) != 1 || args[0][0].kind != tokString {
		// A computed name, such as PREFIX . 'X', names none of the knobs.
		return Define{}, false, nil
	}
	name := args[0][0].text
	if known != nil && !known(name) {
		return Define{}, false, nil
	}
	value, err := evaluate(args[1])
	if err != nil {
		return Define{}, false, fmt.Errorf("define %s: %w", name, err)
	}
	return Define{Name: name, Value: value, Line: line}, true, nil
}

// arguments reads comma-separated token lists up to the closing
// parenthesis, keeping nested brackets inside one argument.
func (p *phpParser) arguments() ([][]token, error) {
	var args [][]token
	var cur []token
	depth := 0
	for {
		tok, err := p.next()
		if err != nil {
			return nil, err
		}
		switch {
		case tok.kind == tokEOF:
			return nil, fmt.Errorf("malformed define: %w: no closing parenthesis", errUnterminated)
		case tok.text == ";" && tok.kind == tokPunct && depth == 0:
			return nil, errors.New("malformed define: ; before the closing parenthesis")
		case tok.kind == tokPunct && strings.Contains("([{", tok.text):
			depth++
		case tok.kind == tokPunct && strings.Contains(")]}", tok.text):
			if depth == 0 {
				if tok.text != ")" {
					return nil, fmt.Errorf("malformed define: unbalanced %s", tok.text)
				}
				if len(cur) > 0 || len(args) > 0 {
					args = append(args, cur)
				}
				return args, p.statementEnd()
			}
			depth--
		case tok.kind == tokPunct && tok.text == "," && depth == 0:
			if len(cur) == 0 {
				return nil, errors.New("malformed define: empty argument")
			}
			args = append(args, cur)
			cur = nil
			continue
		}
		cur = append(cur, tok)
	}
}

// statementEnd requires the ; after a define call (or the ?> that ends it).
func (p *phpParser) statementEnd() error {
	tok, err := p.next()
	if err != nil {
		return err
	}
	if tok.kind == tokEOF || tok.kind == tokPunct && tok.text == ";" || tok.kind == tokCloseTag {
		return nil
	}
	p.unread = &tok
	return fmt.Errorf("malformed define: expected ; after the closing parenthesis, got %s", tok)
}

// evaluate turns a define's value into the text that the knob parses.
func evaluate(toks []token) (string, error) {
	if len(toks) == 1 {
		switch t := toks[0]; {
		case t.kind == tokString && t.dynamic:
			return "", fmt.Errorf("string %s contains a variable, which only PHP can evaluate: write the value itself", t)
		case t.kind == tokString:
			return t.text, nil
		case t.kind == tokNumber:
			return t.text, nil
		case t.kind == tokIdent && (strings.EqualFold(t.text, "true") || strings.EqualFold(t.text, "false")):
			return strings.ToLower(t.text), nil
		}
	}
	if len(toks) == 2 && toks[0].text == "-" && toks[1].kind == tokNumber {
		return "-" + toks[1].text, nil
	}
	if product, ok := multiply(toks); ok {
		return strconv.FormatInt(product, 10), nil
	}
	var parts []string
	for _, t := range toks {
		parts = append(parts, t.String())
	}
	return "", fmt.Errorf("unsupported value %s: use a quoted string, a number, a product such as 10*60, true or false",
		strings.Join(parts, " "))
}

// multiply evaluates n * m * ... of whole numbers, as intervals are often
// written in PHP.
func multiply(toks []token) (int64, bool) {
	if len(toks) < 3 || len(toks)%2 == 0 {
		return 0, false
	}
	product := int64(1)
	for i, t := range toks {
		if i%2 == 1 {
			if t.kind != tokPunct || t.text != "*" {
				return 0, false
			}
			continue
		}
		n, err := strconv.ParseInt(t.text, 10, 64)
		if t.kind != tokNumber || err != nil || n < 0 || n > 1<<31 || product > 1<<31 {
			return 0, false
		}
		product *= n
	}
	return product, true
}
