// Package wgadd sums numbers in goroutines that call WaitGroup.Add
// themselves: Wait can return before they have.
package wgadd

import "sync"

// SumBuggy adds each number in a goroutine that calls wg.Add(1) as it
// starts: Wait may see the counter at zero before any Add, and return early.
func SumBuggy(nums []int) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for _, n := range nums {
		go func() {
			wg.Add(1)
			defer wg.Done()
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return total
}

// SumFixed calls Add before starting each goroutine.
func SumFixed(nums []int) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for _, n := range nums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return total
}
