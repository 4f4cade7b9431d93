package tools

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCalculatorEval(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"347 + 28", "375"},
		{"347+28", "375"},
		{"3 * 28", "84"},
		{"3 x 28", "84"},
		{"3x28", "84"},
		{"3 X 28", "84"},
		{"3 × 28", "84"},
		{"84 / 3", "28"},
		{"84 ÷ 3", "28"},
		{"1 - 2", "-1"},
		{"1 − 2", "-1"},
		{"-5", "-5"},
		{"--5", "5"},
		{"+5", "5"},
		{"- (2 + 3) * 4", "-20"},
		{"2 + 3 * 4", "14"},
		{"(2 + 3) * 4", "20"},
		{"8 / 2 / 2", "2"},
		{"10 - 4 - 3", "3"},
		{"7 / 2", "3.5"},
		{"1 / 3", "0.333333"},
		{"2 / 3", "0.666667"},
		{"-2 / 3", "-0.666667"},
		{"1 / 8", "0.125"},
		{"1 / 1024", "0.000977"},
		{"1 / 3000000", "0"},
		{"-1 / 3000000", "0"},
		{"0.1 + 0.2", "0.3"},
		{"2.50 * 4", "10"},
		{"1.5 * 1.5", "2.25"},
		{"0 * -1", "0"},
		{"007", "7"},
		{" ( ( 1 ) ) ", "1"},
		{"1/3*3", "1"},
		{"123456789012345678901234567890 - 1", "123456789012345678901234567889"},
		{"99999999999999999999999999999 * 10", "999999999999999999999999999990"},
	} {
		got, err := Calculator{}.Eval(tc.expr)
		if assert.NoError(t, err, "%q", tc.expr) {
			assert.Equal(t, tc.want, got, "%q", tc.expr)
		}
	}
}

func TestCalculatorErrors(t *testing.T) {
	for _, tc := range []struct {
		expr string
		is   error
		msg  string
	}{
		{"", ErrSyntax, "syntax error: empty expression"},
		{"   ", ErrSyntax, "syntax error: empty expression"},
		{"1 +", ErrSyntax, "syntax error: the expression ends where a number was expected"},
		{"1 + + ", ErrSyntax, "the expression ends where a number was expected"},
		{"(1 + 2", ErrSyntax, "syntax error: the parenthesis at byte 0 is not closed"},
		{"1 + 2)", ErrSyntax, `syntax error: unexpected ')' at byte 5`},
		{"2.5e3", ErrSyntax, `syntax error: unexpected 'e' at byte 3`},
		{"1.", ErrSyntax, "syntax error: the number at byte 0 has no digits after its decimal point"},
		{".5", ErrSyntax, `syntax error: unexpected '.' at byte 0, want a number`},
		{"2 ** 3", ErrSyntax, `unexpected '*' at byte 3, want a number`},
		{"2 ^ 3", ErrSyntax, `unexpected '^' at byte 2`},
		{"x", ErrSyntax, `unexpected 'x' at byte 0, want a number`},
		{"os.Exit(1)", ErrSyntax, `unexpected 'o' at byte 0`},
		{"1 2", ErrSyntax, `unexpected '2' at byte 2`},
		{"1,000", ErrSyntax, `unexpected ',' at byte 1`},
		{"\xff", ErrSyntax, "invalid UTF-8"},
		{"1 / 0", ErrDivisionByZero, "division by zero (the divisor at byte 4 is 0)"},
		{"1 / (2 - 2)", ErrDivisionByZero, "division by zero"},
		{"0 / 0.0", ErrDivisionByZero, "division by zero"},
		{"1234567890123456789012345678901", ErrOverflow, "overflow: the number at byte 0 has more than 30 digits"},
		{"999999999999999999999999999999 + 1", ErrOverflow, "overflow: a value has more than 30 digits"},
		{"-999999999999999999999999999999 - 1", ErrOverflow, "overflow: a value has more than 30 digits"},
		{"99999 * 99999 * 99999 * 99999 * 99999 * 99999 * 99999", ErrOverflow, "overflow"},
		{strings.Repeat("1+", 100) + "1", ErrTooLong, "expression too long: 201 bytes, at most 200"},
		{strings.Repeat("(", 20) + "1" + strings.Repeat(")", 20), ErrTooLong, "expression too long: nested deeper than 20"},
		{strings.Repeat("-", 25) + "1", ErrTooLong, "nested deeper than 20"},
	} {
		got, err := Calculator{}.Eval(tc.expr)
		if assert.Error(t, err, "%q gave %q", tc.expr, got) {
			assert.ErrorIs(t, err, tc.is, "%q", tc.expr)
			assert.Contains(t, err.Error(), tc.msg, "%q", tc.expr)
		}
	}
	// 19 levels are fine.
	got, err := Calculator{}.Eval(strings.Repeat("(", 19) + "1" + strings.Repeat(")", 19))
	require.NoError(t, err)
	assert.Equal(t, "1", got)
}

func TestCalculatorLimitsAndRun(t *testing.T) {
	c := Calculator{MaxLen: 5, MaxDepth: 2, MaxDigits: 3, Decimals: 2}
	got, err := c.Eval("2/3")
	require.NoError(t, err)
	assert.Equal(t, "0.67", got)
	_, err = c.Eval("1+1+1")
	assert.NoError(t, err)
	_, err = c.Eval("1+1+11")
	assert.ErrorIs(t, err, ErrTooLong)
	_, err = c.Eval("((1))")
	assert.ErrorIs(t, err, ErrTooLong)
	_, err = c.Eval("1000")
	assert.ErrorIs(t, err, ErrOverflow)
	_, err = c.Eval("999+1")
	assert.ErrorIs(t, err, ErrOverflow)

	assert.Equal(t, "calc", Calculator{}.Name())
	out, err := Calculator{}.Run(context.Background(), "6 x 7")
	require.NoError(t, err)
	assert.Equal(t, "42", out)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Calculator{}.Run(ctx, "1")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestFormatDecimal(t *testing.T) {
	for _, tc := range []struct {
		num, den int64
		dec      int
		want     string
	}{
		{5, 1, 3, "5"},
		{-5, 1, 3, "-5"},
		{1, 2, 3, "0.5"},
		{-1, 2, 0, "-1"}, // half away from zero
		{1, 2, 0, "1"},
		{5, 4, 1, "1.3"},
		{-5, 4, 1, "-1.3"},
		{1, 1000, 2, "0"},
		{-1, 1000, 2, "0"},
		{101, 100, 1, "1"},
		{1999, 1000, 2, "2"},
		{1, 20, 2, "0.05"},
	} {
		assert.Equal(t, tc.want, FormatDecimal(big.NewRat(tc.num, tc.den), tc.dec), "%d/%d", tc.num, tc.den)
	}
}

// FuzzCalculator checks that Eval never panics, that its result is a well-formed number or
// its error wraps one of the calculator's errors, and that a result evaluates to itself
// (within the rounding of the output format).
func FuzzCalculator(f *testing.F) {
	for _, s := range []string{"347 + 28", "(1 - 2) * -3 / 7", "1 / 0", "2.5 x 4", "((((1))))", "1 ÷ 3 − 2 × 5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		got, err := Calculator{}.Eval(expr)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrDivisionByZero) && !errors.Is(err, ErrOverflow) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("Eval(%q): error %v wraps none of the calculator's errors", expr, err)
			}
			if got != "" {
				t.Fatalf("Eval(%q) returned %q with error %v", expr, got, err)
			}
			return
		}
		if !utf8.ValidString(got) || got == "" || got == "-0" {
			t.Fatalf("Eval(%q) = %q", expr, got)
		}
		if _, ok := new(big.Rat).SetString(got); !ok || strings.ContainsAny(got, "e/+") {
			t.Fatalf("Eval(%q) = %q is not a decimal number", expr, got)
		}
		if len(got) > DefaultMaxDigits+1+1+DefaultDecimals {
			t.Fatalf("Eval(%q) = %q is too long", expr, got)
		}
		again, err := Calculator{}.Eval(got)
		if err != nil || again != got {
			t.Fatalf("Eval(%q) = %q, which evaluates to %q, %v", expr, got, again, err)
		}
	})
}
