package mutate

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// srcHeader is the start of every source of the operator table.
const srcHeader = `package p

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/heddle-go/heddle/harness"
)

var (
	_ = context.Background
	_ = errors.New
	_ sync.Mutex
	_ = time.Second
	_ = harness.Go
)

var errNotFound = errors.New("not found")

type S struct {
	mu  harness.Mutex
	rw  sync.RWMutex
	m   map[string]int
	n   int
	c   *harness.Chan[int]
	ch  chan int
	ctx context.Context
}
`

// operatorCases is the operator table: a function, the operator applied to
// it, and every mutant that must come out, as its changed lines after the
// mutation (Mutant.After).
var operatorCases = []struct {
	name, op, src string
	want          []string
}{
	{"lock-pair/harness-deferred", "lock-pair", `
func (s *S) Inc() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.n
}`, []string{"(empty) / (empty)"}},
	{"lock-pair/std-rw-early-unlock", "lock-pair", `
func (s *S) Get(k string) (int, bool) {
	s.rw.RLock()
	v, ok := s.m[k]
	if !ok {
		s.rw.RUnlock()
		return 0, false
	}
	s.rw.RUnlock()
	return v, true
}`, []string{"(empty) / (empty) / (empty)"}},
	{"lock-pair/local-mutex-stays-used", "lock-pair", `
func Sum(xs []int) int {
	var mu sync.Mutex
	var wg harness.WaitGroup
	total := 0
	for _, x := range xs {
		wg.Go(func() {
			mu.Lock()
			total += x
			mu.Unlock()
		})
	}
	wg.Wait()
	return total
}`, []string{"_ = &mu / (empty)"}},
	{"lock-pair/lock-through-a-local", "lock-pair", `
func Topic(ts map[string]*S, name string) error {
	t, ok := ts[name]
	if !ok {
		return errNotFound
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ts[name+"'"] = nil
	return nil
}`, []string{"_ = &t / (empty)"}},
	{"split-section", "split-section", `
func (s *S) Move(a, b string) {
	s.mu.Lock()
	s.m[b] = s.m[a]
	delete(s.m, a)
	s.mu.Unlock()
}`, []string{"s.m[b] = s.m[a]; s.mu.Unlock(); s.mu.Lock()"}},
	{"split-section/local-first-statement", "split-section", `
func (s *S) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	n += s.n
	return n
}`, nil},
	{"split-section/rest-touches-nothing-shared", "split-section", `
func (s *S) Lookup(k string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if !ok {
		return 0, errNotFound
	}
	return v, nil
}`, nil},
	{"move-out/explicit", "move-out", `
func (s *S) Move(a, b string) {
	s.mu.Lock()
	s.m[b] = s.m[a]
	delete(s.m, a)
	s.mu.Unlock()
}`, []string{"s.m[b] = s.m[a] / s.mu.Lock()", "s.mu.Unlock() / delete(s.m, a)"}},
	{"move-out/deferred", "move-out", `
func (s *S) Put(k string, v int) bool {
	s.rw.Lock()
	defer s.rw.Unlock()
	_, ok := s.m[k]
	s.m[k] = v
	return !ok
}`, []string{"_, ok := s.m[k] / s.rw.Lock() / defer s.rw.Unlock()"}},
	{"drop-cleanup/harness", "drop-cleanup", `
func (s *S) Wait(ctx context.Context, wg *harness.WaitGroup) {
	defer wg.Done()
	ctx, cancel := harness.WithTimeout(ctx, time.Second)
	defer cancel()
	t := harness.NewTimer(time.Second)
	defer t.Stop()
	harness.Select(t.C.RecvCase(nil, nil), harness.Done(ctx))
	s.c.Close()
}`, []string{"_ = wg", "_ = cancel", "_ = t", "_ = s.c"}},
	{"drop-cleanup/std", "drop-cleanup", `
func (s *S) Stop(parent context.Context, k string) {
	ctx, cancel := context.WithCancel(parent)
	s.ctx = ctx
	cancel()
	close(s.ch)
	delete(s.m, k)
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
}`, []string{"_ = cancel", "_ = s.ch", "_ = s.m; _ = k", "_ = tk"}},
	{"chan-buffer", "chan-buffer", `
func (s *S) Make(n int) {
	s.c = harness.NewChan[int](0)
	s.c = harness.NewChan[int](n)
	s.ch = make(chan int)
	s.ch = make(chan int, 4)
}`, []string{"s.c = harness.NewChan[int](1)", "s.c = harness.NewChan[int](0)", "s.ch = make(chan int, 1)", "s.ch = make(chan int, 0)"}},
	{"drop-done-case/std", "drop-done-case", `
func (s *S) Next(ctx context.Context) (int, error) {
	select {
	case v := <-s.ch:
		return v, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}`, []string{"(empty) / (empty)"}},
	{"drop-done-case/harness", "drop-done-case", `
func (s *S) Next(ctx context.Context) (int, error) {
	var v int
	if harness.Select(s.c.RecvCase(&v, nil), harness.Done(ctx)) == 1 {
		return 0, ctx.Err()
	}
	return v, nil
}`, []string{"if harness.Select(s.c.RecvCase(&v, nil), (*harness.Chan[struct{}])(nil).RecvCase(nil, nil)) == 1 {"}},
	{"swap-chan/harness", "swap-chan", `
func (s *S) Publish(v int) {
	s.n = v
	s.c.Send(v)
	s.m["last"] = v
}`, []string{"s.c.Send(v) / s.n = v", "s.m[\"last\"] = v / s.c.Send(v)"}},
	{"swap-chan/std-and-dependency", "swap-chan", `
func (s *S) Take() {
	v := <-s.ch
	s.n = v
	s.ch <- s.n
}`, []string{"s.ch <- s.n / s.n = v"}},
	{"ignore-ctx/condition", "ignore-ctx", `
func (s *S) Retry(ctx context.Context) {
	for ctx.Err() == nil {
		s.n++
		harness.Sleep(time.Millisecond)
	}
}`, []string{"for (ctx.Err() == nil || true) {"}},
	{"ignore-ctx/checks-and-select", "ignore-ctx", `
func (s *S) Retry(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := harness.NewTimer(time.Millisecond)
		if harness.Select(t.C.RecvCase(nil, nil), harness.Done(ctx)) == 1 {
			return ctx.Err()
		}
		s.n++
	}
}`, []string{"if err := ctx.Err(); (err != nil && false) { / if harness.Select(t.C.RecvCase(nil, nil), (*harness.Chan[struct{}])(nil).RecvCase(nil, nil)) == 1 {"}},
	{"early-return", "early-return", `
func (s *S) Lookup(k string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if !ok {
		return 0, errNotFound
	}
	return v, nil
}`, []string{"heddleMutantSkip := false; defer func() { if !heddleMutantSkip { s.mu.Unlock() } }() / heddleMutantSkip = true; return 0, errNotFound"}},
	{"early-return/no-early-return", "early-return", `
func (s *S) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}`, nil},
}

// writePackage writes src as the one file of a package in a new directory.
func writePackage(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644))
	return dir
}

func TestOperators(t *testing.T) {
	var all [][]byte // every mutant, to compile at the end
	for _, tc := range operatorCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writePackage(t, srcHeader+tc.src)
			ms, err := Generate(dir, Options{Operators: []string{tc.op}})
			require.NoError(t, err)
			var got []string
			for _, m := range ms {
				require.Equal(t, tc.op, m.Operator)
				require.True(t, strings.HasPrefix(m.ID, tc.op+"-"), m.ID)
				require.NotEmpty(t, m.Desc)
				require.Equal(t, strings.Count(srcHeader+tc.src, "\n"), strings.Count(string(m.Src), "\n"), "a mutant keeps the file's lines")
				got = append(got, m.After)
				all = append(all, m.Src)
			}
			require.ElementsMatch(t, tc.want, got)
		})
	}
	t.Run("compile", func(t *testing.T) { compileAll(t, all) })
}

// compileAll builds every source as a package of a module that uses this
// one (through a replace), in one go build.
func compileAll(t *testing.T, srcs [][]byte) {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	dir := t.TempDir()
	gomod := fmt.Sprintf("module heddle.test/mutants\n\ngo 1.25\n\nrequire github.com/heddle-go/heddle v0.0.0\n\nreplace github.com/heddle-go/heddle => %s\n", root)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644))
	for i, src := range srcs {
		p := filepath.Join(dir, fmt.Sprintf("m%d", i))
		require.NoError(t, os.Mkdir(p, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(p, "p.go"), src, 0o644))
	}
	cmd := exec.Command("go", "build", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "mutants that do not compile:\n%s", out)
}
