// Package race is a snippet with a bug: two goroutines update a counter
// without synchronisation.
package race

import "sync"

func Program() string {
	counter := 0
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counter++
		}()
	}
	wg.Wait()
	if counter > 0 {
		return "counted"
	}
	return "none"
}
