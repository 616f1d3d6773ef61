package harness

import "testing"

func TestChunksKeepOrderAcrossBlocks(t *testing.T) {
	var c chunks[int]
	if c.all() != nil {
		t.Fatal("empty chunks must give nil")
	}
	const n = 3*chunkSize + 17
	for i := 0; i < n; i++ {
		c.add(i)
	}
	all := c.all()
	if len(all) != n {
		t.Fatalf("got %d elements, want %d", len(all), n)
	}
	for i, v := range all {
		if v != i {
			t.Fatalf("element %d is %d", i, v)
		}
	}
	if got := cap(c.blocks[0]); got != firstChunk {
		t.Fatalf("first block has capacity %d, want %d", got, firstChunk)
	}
	if got := cap(c.blocks[len(c.blocks)-1]); got != chunkSize {
		t.Fatalf("blocks grow to %d, got %d", chunkSize, got)
	}
}
