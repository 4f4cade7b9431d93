package mathx

import "math"

// Sigmoid returns the logistic function σ(x) = 1 / (1 + e^−x). It cannot fail for large |x|:
// e^−x overflows to +Inf only where σ(x) rounds to 0 anyway. Sigmoid(+Inf) = 1,
// Sigmoid(−Inf) = 0 and Sigmoid(NaN) is NaN.
func Sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// Softplus returns log(1 + e^x), the smooth approximation of max(x, 0); Softplus(−x) is
// −log σ(x). Above x = 30, where log(1 + e^x) and x agree to float64 precision, it returns x,
// so it never overflows; for very negative x, e^x underflows to 0 exactly where the result
// does. Softplus(+Inf) = +Inf, Softplus(−Inf) = 0 and Softplus(NaN) is NaN.
func Softplus(x float64) float64 {
	if x > 30 {
		return x
	}
	return math.Log1p(math.Exp(x))
}
