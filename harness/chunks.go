package harness

// chunks is an append-only list stored in fixed-size blocks, so that a long
// run never copies what it has recorded (and the race detector never re-reads
// it) as the list grows.
type chunks[T any] struct {
	blocks [][]T
	n      int
}

// Blocks start small, for the many short runs of an exploration, and double
// up to chunkSize.
const (
	firstChunk = 64
	chunkSize  = 4096
)

//go:norace
func (c *chunks[T]) add(v T) {
	last := len(c.blocks) - 1
	if last < 0 || len(c.blocks[last]) == cap(c.blocks[last]) {
		size := firstChunk
		if last >= 0 {
			size = min(2*cap(c.blocks[last]), chunkSize)
		}
		c.blocks = append(c.blocks, make([]T, 0, size))
		last++
	}
	c.blocks[last] = append(c.blocks[last], v)
	c.n++
}

// all returns the elements in one slice (nil when empty).
//
//go:norace
func (c *chunks[T]) all() []T {
	if c.n == 0 {
		return nil
	}
	out := make([]T, 0, c.n)
	for _, b := range c.blocks {
		out = append(out, b...)
	}
	return out
}
