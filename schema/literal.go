package schema

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadLiteral reports a label cell that is not a flat Python list or tuple
// of numbers as ast.literal_eval reads it.
var ErrBadLiteral = errors.New("schema: not a Python list literal of numbers")

// ParseList parses a flat Python list or tuple literal of numbers, the way
// Python's ast.literal_eval reads the label columns of the seed CSV
// ("[0, 0, 1, 0]"), and appends the values to dst.
//
// Accepted: "[...]", "(...)" or a bare tuple "0, 1" with elements separated
// by commas and any Python whitespace; an optional trailing comma; decimal, hexadecimal (0x),
// octal (0o) and binary (0b) integers, with an optional sign and single
// underscores between digits as Python allows; floats ("1.", ".5", "1e-3");
// True and False (as 1 and 0). Everything else (nested lists, strings, None,
// complex numbers, a bare number, "(1)" which Python reads as the int 1, and
// parenthesised elements such as "[(1)]", which literal_eval would accept) is
// an error wrapping ErrBadLiteral that gives the byte offset.
func ParseList(dst []float64, s string) ([]float64, error) {
	p := listParser{s: s}
	if err := p.leading(); err != nil {
		return dst, err
	}
	if p.pos >= len(s) {
		return dst, p.fail("empty, want '[' or '('")
	}
	if s[p.pos] != '[' && s[p.pos] != '(' {
		return p.bareTuple(dst)
	}
	open := s[p.pos]
	closing := byte(']')
	if open == '(' {
		closing = ')'
	}
	p.pos++
	p.inBrackets = true
	elems := 0
	commaAfterLast := false
	for {
		p.skipSpace()
		if p.pos >= len(s) {
			return dst, p.fail(fmt.Sprintf("unterminated list, want %q", closing))
		}
		if s[p.pos] == closing {
			p.pos++
			p.inBrackets = false
			break
		}
		if elems > 0 && !commaAfterLast {
			return dst, p.fail(fmt.Sprintf("want ',' or %q", closing))
		}
		v, err := p.number()
		if err != nil {
			return dst, err
		}
		dst = append(dst, v)
		elems++
		p.skipSpace()
		commaAfterLast = false
		if p.pos < len(s) && s[p.pos] == ',' {
			p.pos++
			commaAfterLast = true
		}
	}
	// Python reads "(1)" as the int 1, not a tuple: a one-element tuple needs
	// its comma.
	if open == '(' && elems == 1 && !commaAfterLast {
		return dst, (&listParser{s: s, pos: 0}).fail("a parenthesised single value is not a tuple; write (x,)")
	}
	if !p.trailing() {
		return dst, p.fail("unexpected text after the list")
	}
	return dst, nil
}

// bareTuple reads a tuple without parentheses, "0, 1" or "1,", which
// literal_eval accepts at the top level.
func (p *listParser) bareTuple(dst []float64) ([]float64, error) {
	commas := 0
	for {
		v, err := p.number()
		if err != nil {
			return dst, err
		}
		dst = append(dst, v)
		p.skipSpace()
		if p.atEnd() {
			break
		}
		if p.s[p.pos] != ',' {
			return dst, p.fail("want ',' or the end")
		}
		p.pos++
		commas++
		p.skipSpace()
		if p.atEnd() {
			break
		}
	}
	if !p.trailing() {
		return dst, p.fail("a tuple without brackets must be on one line")
	}
	if commas == 0 {
		return dst, (&listParser{s: p.s}).fail("a single number is not a list; write [x]")
	}
	return dst, nil
}

type listParser struct {
	s          string
	pos        int
	inBrackets bool // line breaks are whitespace only inside brackets
}

func (p *listParser) fail(msg string) error {
	return fmt.Errorf("%w: %s at byte %d", ErrBadLiteral, msg, p.pos)
}

// skipSpace skips what Python's tokenizer skips between tokens: blanks,
// tabs and form feeds, and inside brackets line breaks too.
func (p *listParser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\f':
			p.pos++
		case '\n', '\r':
			if !p.inBrackets {
				return
			}
			p.pos++
		default:
			return
		}
	}
}

// newlineLen is the length of the line break at the start of s, or 0.
func newlineLen(s string) int {
	switch {
	case strings.HasPrefix(s, "\r\n"):
		return 2
	case strings.HasPrefix(s, "\n"), strings.HasPrefix(s, "\r"):
		return 1
	}
	return 0
}

// blankLine returns the end of the whitespace-only line at pos, or -1.
func (p *listParser) blankLine(pos int) int {
	for pos < len(p.s) && (p.s[pos] == ' ' || p.s[pos] == '\t' || p.s[pos] == '\f') {
		pos++
	}
	if n := newlineLen(p.s[pos:]); n > 0 {
		return pos + n
	}
	return -1
}

// leading skips what may precede the expression: blanks and blank lines,
// but no indentation of the line the expression starts on.
func (p *listParser) leading() error {
	p.skipSpace()
	for {
		end := p.blankLine(p.pos)
		if end < 0 {
			break
		}
		p.pos = end
	}
	if p.pos > 0 && newlineLen(p.s[p.pos-1:]) > 0 && p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		return p.fail("unexpected indentation")
	}
	p.skipSpace()
	return nil
}

// atEnd reports whether the top-level expression ends at pos: the end of
// the text or a line break.
func (p *listParser) atEnd() bool {
	return p.pos == len(p.s) || newlineLen(p.s[p.pos:]) > 0
}

// trailing consumes what may follow the expression: blanks, then line
// breaks and blank lines; it reports whether that is all there is.
func (p *listParser) trailing() bool {
	p.skipSpace()
	if p.pos < len(p.s) && newlineLen(p.s[p.pos:]) == 0 {
		return false
	}
	for p.pos < len(p.s) {
		end := p.blankLine(p.pos)
		if end < 0 {
			return false
		}
		p.pos = end
	}
	return true
}

// number reads one element: an optionally signed numeric literal or a bool.
func (p *listParser) number() (float64, error) {
	start := p.pos
	sign := 1.0
	// literal_eval allows one unary sign, optionally followed by whitespace.
	if p.pos < len(p.s) && (p.s[p.pos] == '-' || p.s[p.pos] == '+') {
		if p.s[p.pos] == '-' {
			sign = -1
		}
		p.pos++
		p.skipSpace()
	}
	signed := p.pos != start
	tokStart := p.pos
	for p.pos < len(p.s) && isTokenByte(p.s[p.pos]) {
		// An exponent sign belongs to the number: 1e-3.
		if (p.s[p.pos] == '-' || p.s[p.pos] == '+') && !afterExponent(p.s[tokStart:p.pos]) {
			break
		}
		p.pos++
	}
	tok := p.s[tokStart:p.pos]
	switch tok {
	case "":
		p.pos = tokStart
		return 0, p.fail("want a number")
	case "True", "False":
		// literal_eval rejects -True: unary operators apply only to numbers.
		if signed {
			p.pos = tokStart
			return 0, p.fail("sign before a bool")
		}
		if tok == "True" {
			return 1, nil
		}
		return 0, nil
	}
	v, ok := pythonNumber(tok)
	if !ok {
		p.pos = tokStart
		return 0, p.fail(fmt.Sprintf("%q is not a number", tok))
	}
	return sign * v, nil
}

func isTokenByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
		c == '_' || c == '.' || c == '-' || c == '+'
}

// afterExponent reports whether a sign following tok is an exponent sign.
func afterExponent(tok string) bool {
	if len(tok) < 2 || tok[len(tok)-1] != 'e' && tok[len(tok)-1] != 'E' {
		return false
	}
	lower := strings.ToLower(tok)
	return !strings.HasPrefix(lower, "0x") && !strings.HasPrefix(lower, "0b") && !strings.HasPrefix(lower, "0o")
}

// pythonNumber converts a Python int or float literal (no sign).
func pythonNumber(tok string) (float64, bool) {
	// Fast path for what label files hold: a short decimal int.
	if len(tok) <= 15 && (len(tok) == 1 || tok[0] != '0') {
		n := 0
		for i := 0; i < len(tok); i++ {
			if tok[i] < '0' || tok[i] > '9' {
				n = -1
				break
			}
			n = n*10 + int(tok[i]-'0')
		}
		if n >= 0 {
			return float64(n), true
		}
	}
	lower := strings.ToLower(tok)
	if len(lower) > 2 && lower[0] == '0' && (lower[1] == 'x' || lower[1] == 'o' || lower[1] == 'b') {
		base := map[byte]int{'x': 16, 'o': 8, 'b': 2}[lower[1]]
		// Python allows one underscore right after the prefix: 0x_ff.
		digits := strings.TrimPrefix(lower[2:], "_")
		if !validUnderscores(digits, func(c byte) bool { return digitValue(c) < base }) {
			return 0, false
		}
		n, err := strconv.ParseUint(strings.ReplaceAll(digits, "_", ""), base, 64)
		if err != nil {
			// Python ints are unbounded; so are their float conversions here.
			f, ok := bigUint(strings.ReplaceAll(digits, "_", ""), base)
			return f, ok
		}
		return float64(n), true
	}
	mantissa, exponent, hasExp := strings.Cut(lower, "e")
	intPart, frac, hasDot := strings.Cut(mantissa, ".")
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	if !validUnderscores(intPart, isDigit) || !validUnderscores(frac, isDigit) {
		return 0, false
	}
	if intPart == "" && frac == "" {
		return 0, false
	}
	if hasExp {
		exp := strings.TrimLeft(exponent, "+-")
		if len(exponent)-len(exp) > 1 || exp == "" || !validUnderscores(exp, isDigit) {
			return 0, false
		}
	}
	if !hasDot && !hasExp {
		// A decimal int: Python 3 forbids leading zeros ("01") except in zero itself.
		digits := strings.ReplaceAll(intPart, "_", "")
		if len(digits) > 1 && digits[0] == '0' && strings.Trim(digits, "0") != "" {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(lower, "_", ""), 64)
	if err != nil {
		var numErr *strconv.NumError
		// Out of range: Python gives inf for huge floats and an exact big int
		// for huge ints; both are float +Inf here, which label checks reject.
		if errors.As(err, &numErr) && errors.Is(numErr.Err, strconv.ErrRange) {
			return f, true
		}
		return 0, false
	}
	return f, true
}

// validUnderscores reports whether s consists of digits with single
// underscores strictly between them (Python's rule). Empty s is valid.
func validUnderscores(s string, digit func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '_' {
			if i == 0 || i == len(s)-1 || s[i+1] == '_' {
				return false
			}
			continue
		}
		if !digit(s[i]) {
			return false
		}
	}
	return true
}

func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return 99
}

// bigUint converts a digit string too long for uint64.
func bigUint(digits string, base int) (float64, bool) {
	v := 0.0
	for i := 0; i < len(digits); i++ {
		d := digitValue(digits[i])
		if d >= base {
			return 0, false
		}
		v = v*float64(base) + float64(d)
	}
	return v, true
}
