// Package threeorder is an order that is paid, shipped and cancelled by
// three goroutines: a cancel that does not check the shipping refunds a
// shipped order, but only when the three happen in that order.
package threeorder

import "sync"

// Order is the state of one order.
type Order struct {
	mu                      sync.Mutex
	paid, shipped, refunded bool
}

// Pay records the payment.
func (o *Order) Pay() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.paid = true
}

// Ship ships a paid order that was not refunded.
func (o *Order) Ship() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.paid && !o.refunded {
		o.shipped = true
	}
}

// CancelBuggy refunds a paid order, shipped or not.
func (o *Order) CancelBuggy() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.paid {
		o.refunded = true
	}
}

// CancelFixed refunds a paid order that was not shipped.
func (o *Order) CancelFixed() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.paid && !o.shipped {
		o.refunded = true
	}
}

// Run cancels, ships and pays at once (goroutines started in that order)
// and reports whether the order ended both shipped and refunded.
func Run(cancel func(*Order)) (shippedAndRefunded bool) {
	var o Order
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		cancel(&o)
	}()
	go func() {
		defer wg.Done()
		o.Ship()
	}()
	go func() {
		defer wg.Done()
		o.Pay()
	}()
	wg.Wait()
	return o.shipped && o.refunded
}
