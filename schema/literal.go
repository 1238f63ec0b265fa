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
// by commas; an optional trailing comma; Python's whitespace rules (line
// breaks only inside brackets, no indentation); grouping parentheses
// ("[(1), 2]", "([0, 1])"); decimal, hexadecimal (0x), octal (0o) and
// binary (0b) integers with single underscores between digits; floats
// ("1.", ".5", "1e-3"); one unary sign before a number; True and False (as
// 1 and 0). Everything else (nested lists, strings, None, complex numbers,
// a lone number such as "1" or "(1)") is an error wrapping ErrBadLiteral
// that gives the byte offset. On error dst is returned unchanged.
func ParseList(dst []float64, s string) ([]float64, error) {
	start := len(dst)
	p := listParser{s: s}
	if err := p.leading(); err != nil {
		return dst, err
	}
	if p.atEnd() {
		return dst, p.fail("empty, want a list such as [0, 1]")
	}
	v, kind, err := p.expr(&dst)
	if err != nil {
		return dst[:start], err
	}
	p.skipSpace()
	if p.pos < len(s) && s[p.pos] == ',' {
		// A bare tuple, "0, 1" or "1,": the rest must be on the same line.
		if kind == seqExpr {
			return dst[:start], p.fail("a list inside a tuple")
		}
		dst = append(dst, v)
		for p.pos < len(s) && s[p.pos] == ',' {
			p.pos++
			p.skipSpace()
			if p.atEnd() {
				break
			}
			v, _, err := p.expr(nil)
			if err != nil {
				return dst[:start], err
			}
			dst = append(dst, v)
			p.skipSpace()
		}
	} else if kind != seqExpr {
		return dst[:start], (&listParser{s: s}).fail("a single value is not a list; write [x]")
	}
	if !p.trailing() {
		return dst[:start], p.fail("unexpected text after the list")
	}
	return dst, nil
}

// exprKind is what an expression turned out to be.
type exprKind int

const (
	plainNumber  exprKind = iota // 1, (1)
	signedNumber                 // -1, (+1)
	boolValue                    // True
	seqExpr                      // [1, 2], (1, 2), ()
)

type listParser struct {
	s     string
	pos   int
	depth int // open brackets: line breaks are whitespace only inside them
}

// expr reads one expression. A number or bool is returned; a list or tuple
// has its numbers appended to *seq, or is an error when seq is nil (inside
// another list: literal_eval would return a nested list).
func (p *listParser) expr(seq *[]float64) (float64, exprKind, error) {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return 0, 0, p.fail("want a number")
	}
	switch c := p.s[p.pos]; c {
	case '-', '+':
		// literal_eval takes one sign, applied to a number constant
		// (possibly parenthesised): not to a bool, a sign or a list.
		p.pos++
		at := p.pos
		v, kind, err := p.expr(nil)
		if err != nil {
			return 0, 0, err
		}
		if kind != plainNumber {
			p.pos = at
			return 0, 0, p.fail("a sign applies to a number only")
		}
		if c == '-' {
			v = -v
		}
		return v, signedNumber, nil
	case '[':
		if seq == nil {
			return 0, 0, p.fail("a list inside a list")
		}
		p.pos++
		p.depth++
		return 0, seqExpr, p.items(seq, ']')
	case '(':
		p.pos++
		p.depth++
		p.skipSpace()
		if p.pos < len(p.s) && p.s[p.pos] == ')' {
			if seq == nil {
				return 0, 0, p.fail("a tuple inside a list")
			}
			p.pos++
			p.depth--
			return 0, seqExpr, nil
		}
		first, kind, err := p.expr(seq)
		if err != nil {
			return 0, 0, err
		}
		p.skipSpace()
		if p.pos < len(p.s) && p.s[p.pos] == ')' {
			// Grouping parentheses: (1) is the int 1, ([1]) the list.
			p.pos++
			p.depth--
			return first, kind, nil
		}
		if p.pos >= len(p.s) || p.s[p.pos] != ',' {
			return 0, 0, p.fail("want ',' or ')'")
		}
		if seq == nil || kind == seqExpr {
			return 0, 0, p.fail("a tuple inside a list")
		}
		p.pos++
		*seq = append(*seq, first)
		return 0, seqExpr, p.items(seq, ')')
	}
	return p.literal()
}

// items reads the elements of a list or tuple up to and including closing,
// appending them to *seq.
func (p *listParser) items(seq *[]float64, closing byte) error {
	for {
		p.skipSpace()
		if p.pos >= len(p.s) {
			return p.fail(fmt.Sprintf("unterminated, want %q", closing))
		}
		if p.s[p.pos] == closing {
			p.pos++
			p.depth--
			return nil
		}
		v, _, err := p.expr(nil)
		if err != nil {
			return err
		}
		*seq = append(*seq, v)
		p.skipSpace()
		switch {
		case p.pos < len(p.s) && p.s[p.pos] == ',':
			p.pos++
		case p.pos < len(p.s) && p.s[p.pos] == closing:
		default:
			return p.fail(fmt.Sprintf("want ',' or %q", closing))
		}
	}
}

func (p *listParser) fail(msg string) error {
	return fmt.Errorf("%w: %s at byte %d", ErrBadLiteral, msg, p.pos)
}

// skipSpace skips what Python's tokenizer skips between tokens: blanks,
// tabs, form feeds and backslash line continuations, and inside brackets
// line breaks too.
func (p *listParser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\f':
			p.pos++
		case '\n', '\r':
			if p.depth == 0 {
				return
			}
			p.pos++
		case '\\':
			// An explicit line continuation joins lines anywhere.
			n := newlineLen(p.s[p.pos+1:])
			if n == 0 {
				return
			}
			p.pos += 1 + n
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
	if p.pos == len(p.s) {
		// A line continuation with nothing after it is Python's
		// "unexpected EOF".
		tail := p.s[len(strings.TrimRight(p.s, " \t\f\r\n\\")):]
		if strings.Contains(tail, "\\") {
			return false
		}
	}
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

// literal reads a number or bool token.
func (p *listParser) literal() (float64, exprKind, error) {
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
		return 0, 0, p.fail("want a number")
	case "True":
		return 1, boolValue, nil
	case "False":
		return 0, boolValue, nil
	}
	v, ok := pythonNumber(tok)
	if !ok {
		p.pos = tokStart
		return 0, 0, p.fail(QuoteCell(tok) + " is not a number")
	}
	return v, plainNumber, nil
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
