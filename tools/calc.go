package tools

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"
)

// Calculator defaults (used where a Calculator field is zero).
const (
	// DefaultMaxLen is the longest expression accepted, in bytes.
	DefaultMaxLen = 200
	// DefaultMaxDepth is the deepest nesting of parentheses and unary signs.
	DefaultMaxDepth = 20
	// DefaultMaxDigits is the most digits a number may have, and the most digits of the
	// integer part of any intermediate value or result.
	DefaultMaxDigits = 30
	// DefaultDecimals is the number of decimal places a result is rounded to.
	DefaultDecimals = 6
)

// maxDenBits bounds the denominator of intermediate values (exact fractions): a chain of
// divisions by large primes could otherwise grow it without overflowing the integer part.
const maxDenBits = 1024

// Errors of the calculator; Eval's errors wrap one of them.
var (
	// ErrSyntax is wrapped for an expression that does not parse.
	ErrSyntax = errors.New("syntax error")
	// ErrDivisionByZero is wrapped for a division by zero.
	ErrDivisionByZero = errors.New("division by zero")
	// ErrOverflow is wrapped when a number, an intermediate value or the result is too large
	// (or a fraction too fine).
	ErrOverflow = errors.New("overflow")
	// ErrTooLong is wrapped for an expression longer than MaxLen or nested deeper than MaxDepth.
	ErrTooLong = errors.New("expression too long")
)

// Calculator is a safe evaluator of arithmetic expressions, the tool "calc". It knows
// integers and decimals ("347", "2.5", ".5" is not a number), the operators + and −, ×
// and ÷ (also written -, *, x, X, /), parentheses and unary minus and plus; spaces are
// ignored. Multiplication and division bind tighter than addition and subtraction, and
// operators of one precedence associate to the left ("8/2/2" is 2). Nothing else is
// accepted: there are no variables, functions or exponents, so no code runs.
//
// Arithmetic is exact (fractions, math/big.Rat). The result is written in decimal: an
// integer as its digits with a leading "-" when negative ("1283", "-7"); otherwise rounded
// to Decimals places, half away from zero, without trailing zeros ("2.5", "0.333333",
// "-0.666667"); a value that rounds to zero is "0". Division by zero, a number with more
// than MaxDigits digits, or a value (intermediate or final) whose integer part has more than
// MaxDigits digits is an error.
//
// The zero value is ready to use, with the defaults above. A Calculator is safe for
// concurrent use.
type Calculator struct {
	// MaxLen is the longest expression in bytes; 0 means DefaultMaxLen.
	MaxLen int
	// MaxDepth is the deepest nesting of parentheses and unary signs; 0 means
	// DefaultMaxDepth.
	MaxDepth int
	// MaxDigits bounds the digits of a number and of the integer part of every value; 0
	// means DefaultMaxDigits.
	MaxDigits int
	// Decimals is the number of decimal places of a non-integer result; 0 means
	// DefaultDecimals.
	Decimals int
}

var _ Tool = Calculator{}

// Name returns "calc".
func (Calculator) Name() string { return "calc" }

// Description says what the calculator accepts.
func (Calculator) Description() string {
	return "calc EXPRESSION: exact arithmetic with + - * / and parentheses, e.g. calc 347 + 28 * 3"
}

// Run evaluates args as an expression (see Eval).
func (c Calculator) Run(ctx context.Context, args string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return c.Eval(args)
}

// Eval evaluates expr and returns the result in the format described on Calculator.
func (c Calculator) Eval(expr string) (string, error) {
	maxLen := orDefault(c.MaxLen, DefaultMaxLen)
	if len(expr) > maxLen {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrTooLong, len(expr), maxLen)
	}
	if !utf8.ValidString(expr) {
		return "", fmt.Errorf("%w: invalid UTF-8", ErrSyntax)
	}
	p := parser{
		src:       expr,
		maxDepth:  orDefault(c.MaxDepth, DefaultMaxDepth),
		maxDigits: orDefault(c.MaxDigits, DefaultMaxDigits),
	}
	p.limit = new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p.maxDigits)), nil)
	p.skipSpace()
	if p.pos == len(p.src) {
		return "", fmt.Errorf("%w: empty expression", ErrSyntax)
	}
	v, err := p.expr(0)
	if err != nil {
		return "", err
	}
	if p.pos < len(p.src) {
		r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
		return "", fmt.Errorf("%w: unexpected %q at byte %d", ErrSyntax, r, p.pos)
	}
	return FormatDecimal(v, orDefault(c.Decimals, DefaultDecimals)), nil
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// FormatDecimal writes v in the calculator's result format: the integer digits of an
// integer, otherwise v rounded to decimals places (half away from zero) without trailing
// zeros; "-0" is never written.
func FormatDecimal(v *big.Rat, decimals int) string {
	if v.IsInt() {
		return v.Num().String()
	}
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)
	// n = round(|v| * 10^decimals), half away from zero.
	num := new(big.Int).Abs(v.Num())
	num.Mul(num, scale)
	q, r := new(big.Int).QuoRem(num, v.Denom(), new(big.Int))
	if r.Lsh(r, 1).Cmp(v.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if q.Sign() == 0 {
		return "0"
	}
	ip, fp := new(big.Int).QuoRem(q, scale, new(big.Int))
	var sb strings.Builder
	if v.Sign() < 0 {
		sb.WriteByte('-')
	}
	sb.WriteString(ip.String())
	if fp.Sign() != 0 {
		frac := fp.String()
		frac = strings.Repeat("0", decimals-len(frac)) + frac
		sb.WriteByte('.')
		sb.WriteString(strings.TrimRight(frac, "0"))
	}
	return sb.String()
}

// parser is a recursive-descent parser that evaluates as it parses:
//
//	expr   = term { ("+" | "-" | "−") term }
//	term   = unary { ("*" | "x" | "X" | "×" | "/" | "÷") unary }
//	unary  = ("-" | "−" | "+") unary | primary
//	primary = number | "(" expr ")"
//	number = digit { digit } [ "." digit { digit } ]
type parser struct {
	src       string
	pos       int
	maxDepth  int
	maxDigits int
	limit     *big.Int // 10^maxDigits
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// accept consumes one of the given operator spellings and returns its canonical form
// (the first byte of ops' entry), or 0.
func (p *parser) accept(ops ...string) string {
	p.skipSpace()
	for _, op := range ops {
		if strings.HasPrefix(p.src[p.pos:], op) {
			p.pos += len(op)
			return op
		}
	}
	return ""
}

func (p *parser) expr(depth int) (*big.Rat, error) {
	v, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	for {
		op := p.accept("+", "-", "−")
		if op == "" {
			return v, nil
		}
		w, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		if op == "+" {
			v.Add(v, w)
		} else {
			v.Sub(v, w)
		}
		if err := p.check(v); err != nil {
			return nil, err
		}
	}
}

func (p *parser) term(depth int) (*big.Rat, error) {
	v, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for {
		op := p.accept("*", "x", "X", "×", "/", "÷")
		if op == "" {
			return v, nil
		}
		p.skipSpace()
		at := p.pos
		w, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		switch op {
		case "/", "÷":
			if w.Sign() == 0 {
				return nil, fmt.Errorf("%w (the divisor at byte %d is 0)", ErrDivisionByZero, at)
			}
			v.Quo(v, w)
		default:
			v.Mul(v, w)
		}
		if err := p.check(v); err != nil {
			return nil, err
		}
	}
}

func (p *parser) unary(depth int) (*big.Rat, error) {
	if depth >= p.maxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrTooLong, p.maxDepth)
	}
	switch p.accept("-", "−", "+") {
	case "":
		return p.primary(depth)
	case "+":
		return p.unary(depth + 1)
	default:
		v, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return v.Neg(v), nil
	}
}

func (p *parser) primary(depth int) (*big.Rat, error) {
	p.skipSpace()
	if p.pos == len(p.src) {
		return nil, fmt.Errorf("%w: the expression ends where a number was expected", ErrSyntax)
	}
	if p.src[p.pos] == '(' {
		open := p.pos
		p.pos++
		v, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.accept(")") == "" {
			return nil, fmt.Errorf("%w: the parenthesis at byte %d is not closed", ErrSyntax, open)
		}
		return v, nil
	}
	return p.number()
}

func (p *parser) number() (*big.Rat, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	n := digits()
	if n == 0 {
		r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
		return nil, fmt.Errorf("%w: unexpected %q at byte %d, want a number", ErrSyntax, r, p.pos)
	}
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		f := digits()
		if f == 0 {
			return nil, fmt.Errorf("%w: the number at byte %d has no digits after its decimal point", ErrSyntax, start)
		}
		n += f
	}
	if n > p.maxDigits {
		return nil, fmt.Errorf("%w: the number at byte %d has more than %d digits", ErrOverflow, start, p.maxDigits)
	}
	v, ok := new(big.Rat).SetString(p.src[start:p.pos])
	if !ok {
		// Unreachable: the text is digits with an optional fraction.
		return nil, fmt.Errorf("%w: bad number %q", ErrSyntax, p.src[start:p.pos])
	}
	return v, nil
}

// check reports an intermediate value whose integer part has more than maxDigits digits,
// or whose denominator is too fine.
func (p *parser) check(v *big.Rat) error {
	ip := new(big.Int).Quo(v.Num(), v.Denom())
	if ip.CmpAbs(p.limit) >= 0 {
		return fmt.Errorf("%w: a value has more than %d digits", ErrOverflow, p.maxDigits)
	}
	if v.Denom().BitLen() > maxDenBits {
		return fmt.Errorf("%w: a fraction needs more than %d bits", ErrOverflow, maxDenBits)
	}
	return nil
}
