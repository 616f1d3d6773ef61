package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/heddle-go/heddle/harness/explore"
)

// errHelp is returned when a command printed its help on request.
var errHelp = errors.New("help requested")

// newFlagSet makes a flag set that reports errors instead of exiting.
func (a *app) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if a.synopsis == nil {
		a.synopsis = map[string]string{}
	}
	a.synopsis[name] = synopsis
	return fs
}

// parse parses flags and positional arguments in any order (flag stops at
// the first positional argument; "heddle run mq --seeds 10" is natural).
func (a *app) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				a.printHelp(fs)
				return nil, errHelp
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (a *app) printHelp(fs *flag.FlagSet) {
	fmt.Fprintf(a.stdout, "usage: heddle %s %s\n\nFlags:\n", fs.Name(), a.synopsis[fs.Name()])
	fs.SetOutput(a.stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// seedRange is the --seeds flag: "N" (seeds 0 to N-1) or "A:B" (A to B-1).
type seedRange struct {
	first int64
	count int
	set   bool
}

func (s *seedRange) String() string {
	if !s.set {
		return ""
	}
	return fmt.Sprintf("%d:%d", s.first, s.first+int64(s.count))
}

func (s *seedRange) Set(v string) error {
	r, err := parseSeedRange(v)
	if err != nil {
		return err
	}
	*s = r
	return nil
}

func parseSeedRange(v string) (seedRange, error) {
	const max = 1 << 30
	bad := fmt.Errorf("bad seed range %q: want N (seeds 0..N-1) or A:B (seeds A..B-1), with N >= 1, A < B", v)
	if a, b, ok := strings.Cut(v, ":"); ok {
		from, err1 := strconv.ParseInt(a, 10, 64)
		to, err2 := strconv.ParseInt(b, 10, 64)
		if err1 != nil || err2 != nil || to <= from || from < 0 || to-from > max {
			return seedRange{}, bad
		}
		return seedRange{first: from, count: int(to - from), set: true}, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return seedRange{}, bad
	}
	return seedRange{count: n, set: true}, nil
}

// parseShard reads "k/n" with 1 <= k <= n.
func parseShard(v string) (k, n int, err error) {
	bad := fmt.Errorf("bad shard %q: want k/n with 1 <= k <= n (e.g. 2/4; for a Kubernetes Indexed Job use $((JOB_COMPLETION_INDEX+1))/n)", v)
	a, b, ok := strings.Cut(v, "/")
	if !ok {
		return 0, 0, bad
	}
	k, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || n < 1 || k < 1 || k > n {
		return 0, 0, bad
	}
	return k, n, nil
}

// selectVariants returns the variants of c to run: all, or the named one.
func selectVariants(c explore.Case, name string) ([]explore.Variant, error) {
	if name == "" {
		return c.Variants, nil
	}
	v, err := c.Variant(name)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return []explore.Variant{v}, nil
}

func variantNames(c explore.Case) string {
	var names []string
	for _, v := range c.Variants {
		names = append(names, v.Name)
	}
	return strings.Join(names, ", ")
}
