package scenarios

import "math/rand/v2"

// Weighted draws one of values from rng, value i with weight weights[i]
// (the two have the same length and the weights a positive sum): how a
// case draws its configuration and workload shape from a seed.
func Weighted[T any](rng *rand.Rand, values []T, weights []int) T {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := rng.IntN(total)
	for i, w := range weights {
		if n < w {
			return values[i]
		}
		n -= w
	}
	return values[len(values)-1]
}
