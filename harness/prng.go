package harness

// prng is the World's random source (splitmix64). math/rand's generators
// would be reported by the race detector: the goroutines of a World call them
// one after another, with no happens-before edge between the calls.
type prng struct{ s uint64 }

func newPRNG(seed int64, stream uint64) *prng {
	p := &prng{s: uint64(seed) ^ stream*0x9e3779b97f4a7c15}
	p.next()
	return p
}

//go:norace
func (p *prng) next() uint64 {
	p.s += 0x9e3779b97f4a7c15
	z := p.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intN returns a number in [0, n); n must be positive.
//
//go:norace
func (p *prng) intN(n int) int { return int(p.next() % uint64(n)) }

// float64 returns a number in [0, 1).
//
//go:norace
func (p *prng) float64() float64 { return float64(p.next()>>11) / (1 << 53) }
