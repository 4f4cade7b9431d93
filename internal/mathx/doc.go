// Package mathx holds small float64 helpers shared by the loss functions: the logistic
// sigmoid and softplus, computed so that they neither overflow nor lose precision for
// large |x|.
package mathx
