package harness

// Node is a named group of goroutines with its own address on the simulated
// network. Goroutines started from a node's goroutine belong to the node.
type Node struct {
	name string
}

// Name returns the node's name.
func (n *Node) Name() string { return n.name }
