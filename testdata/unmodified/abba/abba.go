// Package abba moves money between two accounts from two goroutines that
// take the accounts' locks in opposite orders: an ABBA deadlock.
package abba

import "sync"

// Account is a balance under its own lock.
type Account struct {
	ID      int
	mu      sync.Mutex
	Balance int
}

// TransferBuggy locks the source, then the destination: two transfers in
// opposite directions can each hold one lock and wait for the other.
func TransferBuggy(from, to *Account, amount int) {
	from.mu.Lock()
	defer from.mu.Unlock()
	to.mu.Lock()
	defer to.mu.Unlock()
	from.Balance -= amount
	to.Balance += amount
}

// TransferFixed locks the account with the lower ID first, whatever the
// direction.
func TransferFixed(from, to *Account, amount int) {
	first, second := from, to
	if second.ID < first.ID {
		first, second = second, first
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	second.mu.Lock()
	defer second.mu.Unlock()
	from.Balance -= amount
	to.Balance += amount
}

// Both runs a transfer each way at once and returns the balances.
func Both(transfer func(from, to *Account, amount int)) (int, int) {
	a, b := &Account{ID: 1, Balance: 100}, &Account{ID: 2, Balance: 100}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		transfer(a, b, 10)
	}()
	go func() {
		defer wg.Done()
		transfer(b, a, 20)
	}()
	wg.Wait()
	return a.Balance, b.Balance
}
