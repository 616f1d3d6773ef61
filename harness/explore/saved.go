package explore

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/heddle-go/heddle/harness"
)

// Saved failures. Like go test's fuzzing corpus, every failing schedule the
// explorer keeps is a small JSON file, here under
// testdata/heddle/<case>/<variant>/, and it is re-run first on every go test
// and every heddle run, forever. For a variant that carries a bug the file
// is the expected failure (a regression test that the bug is still found);
// for a fixed variant it must pass.

// SavedFailure is one saved failing schedule.
type SavedFailure struct {
	Case    string `json:"case"`
	Variant string `json:"variant"`
	// Seed and Strategy found it; replaying Schedule with Seed reproduces it.
	Seed     int64  `json:"seed"`
	Strategy string `json:"strategy,omitempty"`
	// Kind is the violation kind the schedule shows.
	Kind harness.Kind `json:"kind"`
	// Schedule is the run's Result.Schedule (shrunk when Shrunk).
	Schedule    []int `json:"schedule"`
	Preemptions int   `json:"preemptions"`
	Shrunk      bool  `json:"shrunk"`
	// Faults is the run's (shrunk) fault plan in faults.ParsePlan's
	// notation; nil for a variant without faults.
	Faults *string `json:"faults,omitempty"`
	// Message is the first line of the violation, for a reader.
	Message string `json:"message,omitempty"`
	// Path is where the file was read from or written to.
	Path string `json:"-"`
}

// DefaultSavedDir returns testdata/heddle under the root of the module that
// contains the working directory (the directory holding go.mod), so that go
// test in any package and the heddle command share one corpus; outside a
// module it returns testdata/heddle.
func DefaultSavedDir() string {
	dir, err := os.Getwd()
	if err == nil {
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				return filepath.Join(d, "testdata", "heddle")
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return filepath.Join("testdata", "heddle")
}

// SavedDir returns the directory of one variant's saved failures.
func SavedDir(root, caseName, variant string) string {
	if root == "" {
		root = DefaultSavedDir()
	}
	return filepath.Join(root, caseName, variant)
}

// LoadSaved reads every saved failure of a variant, in file name order. A
// missing directory is no error. A file that cannot be read or parsed does
// not stop the others: LoadSaved returns every good file, and an error that
// names each bad one (a *BadSavedError each, joined).
func LoadSaved(root, caseName, variant string) ([]SavedFailure, error) {
	dir := SavedDir(root, caseName, variant)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("saved failures of %s/%s: %w", caseName, variant, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var out []SavedFailure
	var bad []error
	for _, name := range names {
		s, err := ReadSaved(filepath.Join(dir, name))
		if err != nil {
			bad = append(bad, err)
			continue
		}
		if s.Case != caseName || s.Variant != variant {
			bad = append(bad, &BadSavedError{Path: s.Path, Err: fmt.Errorf("it is a failure of %s/%s, not %s/%s", s.Case, s.Variant, caseName, variant)})
			continue
		}
		out = append(out, s)
	}
	return out, errors.Join(bad...)
}

// BadSavedError is a saved failure file that cannot be used: unreadable,
// not JSON, or missing what a replay needs.
type BadSavedError struct {
	Path string
	Err  error
}

func (e *BadSavedError) Error() string { return fmt.Sprintf("bad saved failure %s: %v", e.Path, e.Err) }

func (e *BadSavedError) Unwrap() error { return e.Err }

// ReadSaved reads one saved failure file. Its errors are *BadSavedError.
func ReadSaved(path string) (SavedFailure, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return SavedFailure{}, &BadSavedError{Path: path, Err: err}
	}
	var s SavedFailure
	if err := json.Unmarshal(data, &s); err != nil {
		return SavedFailure{}, &BadSavedError{Path: path, Err: err}
	}
	switch {
	case s.Kind == "":
		return SavedFailure{}, &BadSavedError{Path: path, Err: errors.New("no violation kind")}
	case s.Case == "" || s.Variant == "":
		return SavedFailure{}, &BadSavedError{Path: path, Err: errors.New("no case or variant")}
	}
	s.Path = path
	return s, nil
}

// Save writes s under root (DefaultSavedDir when empty) as
// <case>/<variant>/<kind>-seed<N>-<hash>.json and returns the path. Saving
// the same schedule twice writes the same file.
func (s *SavedFailure) Save(root string) (string, error) {
	if s.Case == "" || s.Variant == "" || s.Kind == "" {
		return "", errors.New("saved failure needs a case, a variant and a kind")
	}
	dir := SavedDir(root, s.Case, s.Variant)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	h := fnv.New32a()
	fmt.Fprint(h, s.Seed, s.Schedule)
	if s.Faults != nil {
		fmt.Fprint(h, *s.Faults)
	}
	name := fmt.Sprintf("%s-seed%d-%08x.json", strings.ToLower(string(s.Kind)), s.Seed, h.Sum32())
	path := filepath.Join(dir, name)
	if s.Schedule == nil {
		s.Schedule = []int{}
	}
	data, err := s.marshal()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", err
	}
	s.Path = path
	return path, nil
}

// marshal renders s as JSON with one field per line and the schedule on one
// line, so that a saved file stays readable in a diff.
func (s *SavedFailure) marshal() ([]byte, error) {
	compact, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	var fields []json.RawMessage
	var keys []string
	dec := json.NewDecoder(strings.NewReader(string(compact)))
	if _, err := dec.Token(); err != nil { // {
		return nil, err
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		keys = append(keys, k.(string))
		fields = append(fields, v)
	}
	var b strings.Builder
	b.WriteString("{\n")
	for i, k := range keys {
		kj, _ := json.Marshal(k)
		fmt.Fprintf(&b, "  %s: %s", kj, fields[i])
		if i < len(keys)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return []byte(b.String()), nil
}
