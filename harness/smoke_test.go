package harness

import (
	"context"
	"testing"
	"time"
)

func smokeProgram() {
	var mu Mutex
	var wg WaitGroup
	total := 0
	ch := NewChan[int](2)
	for i := 0; i < 4; i++ {
		wg.Go(func() {
			Sleep(time.Duration(i) * time.Second)
			mu.Lock()
			total += i
			mu.Unlock()
			ch.Send(i)
		})
	}
	ctx, cancel := WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := 0
	for got < 4 {
		var v int
		switch Select(ch.RecvCase(&v, nil), Done(ctx)) {
		case 0:
			got++
		case 1:
			panic("timeout")
		}
	}
	wg.Wait()
	if total != 6 {
		panic("total")
	}
}

func TestSmoke(t *testing.T) {
	for seed := int64(0); seed < 20; seed++ {
		r1 := Run(Options{Seed: seed}, smokeProgram)
		r2 := Run(Options{Seed: seed}, smokeProgram)
		if r1.Failed() {
			t.Fatalf("seed %d: %v", seed, r1.Err())
		}
		if r1.TraceHash != r2.TraceHash {
			t.Fatalf("seed %d: hashes differ", seed)
		}
		t.Logf("seed %d steps %d elapsed %v hash %x", seed, r1.Steps, r1.Elapsed, r1.TraceHash)
	}
}
