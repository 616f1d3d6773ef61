package checkers

import (
	"fmt"
	"hash/maphash"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/heddle-go/heddle/harness"
)

// LinOptions configures a linearizability check.
type LinOptions struct {
	// Dir is the directory where the HTML visualisation of a history that
	// is not linearizable is written (porcupine's; open it in a browser).
	// Empty means os.TempDir().
	Dir string
	// Name identifies the history in the message and the visualisation's
	// file name, e.g. "mq-buggy-seed42". Empty means the model's name.
	Name string
	// Timeout bounds the search (it is NP-hard in general; partitioned
	// histories of this package's models are fast). Zero means no bound. A
	// search that runs out of time finds no violation.
	Timeout time.Duration
	// NoVisualization skips writing the HTML file.
	NoVisualization bool
}

// unknown is the output porcupine sees for an operation whose outcome the
// client does not know: the models accept any result for it and apply its
// effect as the state dictates.
type unknown struct{}

func isUnknown(out any) bool { _, ok := out.(unknown); return ok }

// opMeta travels with each porcupine operation, back to the recorded one.
type opMeta struct {
	index int // in the ops given to the check
	op    harness.Operation
}

func (m opMeta) String() string {
	return fmt.Sprintf("client %d, op #%d, %s", m.op.Client, m.index, timesOf(m.op))
}

// timesOf renders an operation's interval on the run's clock.
func timesOf(op harness.Operation) string {
	switch {
	case !op.Returned():
		return fmt.Sprintf("called at %v, never returned", op.CallTime)
	case op.Unknown:
		return fmt.Sprintf("called at %v, gave up at %v, outcome unknown", op.CallTime, op.ReturnTime)
	}
	return fmt.Sprintf("%v → %v", op.CallTime, op.ReturnTime)
}

// spec is a sequential specification in porcupine's terms, with what the
// driver needs to convert and partition a recorded history.
type spec struct {
	name          string
	init          func() any
	step          func(state, input, output any) (bool, any)
	equal         func(a, b any) bool // nil: ==
	hash          func(state any) uint64
	describeOp    func(input, output any) string
	describeState func(state any) string
	// convert checks an operation's types and returns the input and output
	// porcupine sees, and whether the operation matters at all (a read
	// whose outcome is unknown constrains nothing).
	convert func(op harness.Operation) (in, out any, keep bool, err error)
	// partition splits the kept operations (indices into ops) into
	// independent sub-histories; nil means a single one.
	partition func(ops []harness.Operation, kept []int) []part
}

// part is one independent sub-history.
type part struct {
	label string // "key \"x\"", "group g1"
	idx   []int  // indices into the checked ops
}

var hashSeed = maphash.MakeSeed()

// hashOf hashes a comparable value for a model's state cache.
func hashOf[T comparable](v T) uint64 { return maphash.Comparable(hashSeed, v) }

func (s *spec) model() porcupine.Model {
	m := porcupine.Model{
		Init:          s.init,
		Step:          s.step,
		Equal:         s.equal,
		Hash:          s.hash,
		DescribeState: s.describeState,
		DescribeOperation: func(in, out any) string {
			return s.describeOp(in, out)
		},
		DescribeOperationMetadata: func(info any) string {
			if m, ok := info.(opMeta); ok {
				return m.String()
			}
			return ""
		},
	}
	return m
}

// check runs the linearizability check of ops against s: the whole history
// first (fast, partitions in parallel), then, if it fails, each partition
// again to name the failing ones and explain them.
func (s *spec) check(ops []harness.Operation, opts LinOptions) []Violation {
	name := opts.Name
	if name == "" {
		name = s.name
	}
	pops, kept, err := s.operations(ops)
	if err != nil {
		return []Violation{Violationf(Invariant, "%s: checker misuse: %v", name, err)}
	}
	parts := []part{{label: "", idx: kept}}
	if s.partition != nil {
		parts = s.partition(ops, kept)
	}
	subs := subHistories(pops, parts)
	m := s.model()
	m.Partition = func([]porcupine.Operation) [][]porcupine.Operation { return subs }
	if porcupine.CheckOperationsTimeout(m, nil, opts.Timeout) != porcupine.Illegal {
		return nil
	}
	msg, vis := s.explainFailure(name, len(ops), parts, subs, opts)
	v := Violationf(NotLinearizable, "%s", msg)
	v.Visualization = vis
	return []Violation{v}
}

// operations converts the recorded operations to porcupine's, indexed like
// ops (only those listed in kept are used). An operation whose outcome is
// unknown may take effect at any moment after its call, or never.
func (s *spec) operations(ops []harness.Operation) (pops []porcupine.Operation, kept []int, err error) {
	pops = make([]porcupine.Operation, len(ops))
	clients := denseClients(ops)
	for i, op := range ops {
		in, out, keep, err := s.convert(op)
		if err != nil {
			return nil, nil, fmt.Errorf("operation #%d (client %d): %w", i, op.Client, err)
		}
		if !keep {
			continue
		}
		ret := op.Return
		if op.Unknown || !op.Returned() {
			// It may take effect at any moment after its call, or never
			// (after everything else, where nothing observes it).
			ret = math.MaxInt64
			out = unknown{}
		}
		pops[i] = porcupine.Operation{ClientId: clients[op.Client], Input: in, Call: op.Call, Output: out, Return: ret,
			Metadata: opMeta{index: i, op: op}}
		kept = append(kept, i)
	}
	return pops, kept, nil
}

// subHistories gathers each part's operations.
func subHistories(pops []porcupine.Operation, parts []part) [][]porcupine.Operation {
	subs := make([][]porcupine.Operation, len(parts))
	for p, pt := range parts {
		subs[p] = make([]porcupine.Operation, len(pt.idx))
		for j, i := range pt.idx {
			subs[p][j] = pops[i]
		}
	}
	return subs
}

// failingParts checks each sub-history alone and returns the indices of
// those that are not linearizable.
func (s *spec) failingParts(subs [][]porcupine.Operation, timeout time.Duration) []int {
	var bad []int
	single := s.model()
	for p := range subs {
		if porcupine.CheckOperationsTimeout(single, subs[p], timeout) == porcupine.Illegal {
			bad = append(bad, p)
		}
	}
	if len(bad) == 0 { // only possible if a timeout cut the second pass short
		bad = []int{0}
	}
	return bad
}

// explainFailure describes a history that is not linearizable: which
// partitions fail, the first three of them explained, and where the
// visualisation of the failing ones is; it returns the message and the
// visualisation's path ("" when none was written).
func (s *spec) explainFailure(name string, n int, parts []part, subs [][]porcupine.Operation, opts LinOptions) (string, string) {
	bad := s.failingParts(subs, opts.Timeout)
	badSubs := make([][]porcupine.Operation, len(bad))
	for j, p := range bad {
		badSubs[j] = subs[p]
	}
	m := s.model()
	m.Partition = func([]porcupine.Operation) [][]porcupine.Operation { return badSubs }
	_, info := porcupine.CheckOperationsVerbose(m, nil, opts.Timeout)

	var b strings.Builder
	writeSummary(&b, name, n, parts, bad)
	partials := info.PartialLinearizations()
	for j, p := range bad {
		if j == 3 {
			fmt.Fprintf(&b, "\n(%d more failing partitions in the visualisation)", len(bad)-j)
			break
		}
		var longest []int
		if j < len(partials) {
			longest = longestPartial(partials[j])
		}
		s.explain(&b, parts[p].label, badSubs[j], longest)
	}
	vis := ""
	if !opts.NoVisualization {
		path, err := visualize(m, info, opts.Dir, name)
		if err != nil {
			fmt.Fprintf(&b, "\nvisualisation not written: %v", err)
		} else {
			fmt.Fprintf(&b, "\nvisualisation: %s", path)
			vis = path
		}
	}
	return b.String(), vis
}

// writeSummary writes the message's first line: the history is not
// linearizable and, if it was partitioned, how many partitions fail and
// the labels of the first five.
func writeSummary(b *strings.Builder, name string, n int, parts []part, bad []int) {
	fmt.Fprintf(b, "%s: the history of %d operations is not linearizable", name, n)
	if len(parts) > 1 {
		labels := make([]string, 0, len(bad))
		for _, p := range bad {
			labels = append(labels, parts[p].label)
		}
		if len(labels) > 5 {
			labels = append(labels[:5], "...")
		}
		fmt.Fprintf(b, " (%d of %d partitions fail: %s)", len(bad), len(parts), strings.Join(labels, ", "))
	}
	b.WriteString(".")
}

// longestPartial returns the longest of a sub-history's partial
// linearizations; of equally long ones, the least in lexicographic order of
// their operation ids. porcupine lists them in map order, which changes from
// run to run: the tie-break keeps a seed's message the same.
func longestPartial(partials [][]int) []int {
	var longest []int
	for _, l := range partials {
		if len(l) > len(longest) || (len(l) == len(longest) && slices.Compare(l, longest) < 0) {
			longest = l
		}
	}
	return longest
}

// explain describes one failing sub-history: the end of its longest
// linearizable prefix, and the operations none of which can come next.
func (s *spec) explain(b *strings.Builder, label string, sub []porcupine.Operation, longest []int) {
	const show = 8
	b.WriteString("\n")
	if label != "" {
		b.WriteString(label + ": ")
	}
	in := make([]bool, len(sub))
	for _, id := range longest {
		in[id] = true
	}
	fmt.Fprintf(b, "%d of its %d operations linearize", len(longest), len(sub))
	if len(longest) > 0 {
		from := max(0, len(longest)-show)
		if from > 0 {
			fmt.Fprintf(b, "; the last %d of them, in order:", show)
		} else {
			b.WriteString(", in order:")
		}
		for _, id := range longest[from:] {
			b.WriteString("\n    " + s.describe(sub[id]))
		}
	}
	// The frontier: operations left whose call precedes every return left.
	minRet := int64(math.MaxInt64)
	for id, op := range sub {
		if !in[id] && op.Return < minRet {
			minRet = op.Return
		}
	}
	var next []int
	for id, op := range sub {
		if !in[id] && op.Call <= minRet {
			next = append(next, id)
		}
	}
	sort.Slice(next, func(i, j int) bool { return sub[next[i]].Call < sub[next[j]].Call })
	b.WriteString("\n  none of these can come next:")
	for k, id := range next {
		if k == show {
			fmt.Fprintf(b, "\n    ... and %d more", len(next)-show)
			break
		}
		b.WriteString("\n    " + s.describe(sub[id]))
	}
}

func (s *spec) describe(op porcupine.Operation) string {
	m := op.Metadata.(opMeta)
	return fmt.Sprintf("client %d: %s  [op #%d, %s]", m.op.Client, s.describeOp(op.Input, op.Output), m.index, timesOf(m.op))
}

// visualize writes porcupine's HTML visualisation into dir.
func visualize(m porcupine.Model, info porcupine.LinearizationInfo, dir, name string) (string, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "heddle-"+fileSafe(name)+"-*.html")
	if err != nil {
		return "", err
	}
	if err := porcupine.Visualize(m, info, f); err != nil {
		f.Close()
		return "", err
	}
	return f.Name(), f.Close()
}

func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// denseClients maps client ids to 0..n-1 in increasing order, as the
// visualisation wants.
func denseClients(ops []harness.Operation) map[int]int {
	ids := map[int]int{}
	var list []int
	for _, op := range ops {
		if _, ok := ids[op.Client]; !ok {
			ids[op.Client] = 0
			list = append(list, op.Client)
		}
	}
	sort.Ints(list)
	for i, c := range list {
		ids[c] = i
	}
	return ids
}

// partitionBy groups the kept operations by a key, in order of first
// appearance.
func partitionBy[K comparable](ops []harness.Operation, kept []int, key func(harness.Operation) K, label func(K) string) []part {
	index := map[K]int{}
	var parts []part
	for _, i := range kept {
		k := key(ops[i])
		p, ok := index[k]
		if !ok {
			p = len(parts)
			index[k] = p
			parts = append(parts, part{label: label(k)})
		}
		parts[p].idx = append(parts[p].idx, i)
	}
	return parts
}

// typeError reports a recorded value of the wrong type.
func typeError(what string, got any, want string) error {
	return fmt.Errorf("%s is %T, the model expects %s", what, got, want)
}
