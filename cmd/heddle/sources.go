package main

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// sourceStamps are the size and modification time of each file of a module
// that its builds read (Go files, go.mod, go.sum), by path. heddle mutate
// builds each mutant when its turn comes, from the files as they are then:
// it takes the stamps at its start and stops, rather than mix versions in
// one report, when a file changes during the sweep.
type sourceStamps map[string]fileStamp

type fileStamp struct {
	size int64
	mod  time.Time
}

// stampSources stamps the module under root, leaving out what the go
// command leaves out of builds (testdata, and directories whose names begin
// with "." or "_").
func stampSources(root string) (sourceStamps, error) {
	s := sourceStamps{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") && name != "go.mod" && name != "go.sum" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		s[path] = fileStamp{size: info.Size(), mod: info.ModTime()}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stamp the sources of %s: %w", root, err)
	}
	return s, nil
}

// changed returns the first file (in path order) added, removed or
// modified under root since s was taken, or "" if none was.
func (s sourceStamps) changed(root string) (string, error) {
	now, err := stampSources(root)
	if err != nil {
		return "", err
	}
	var diff []string
	for path, st := range now {
		if old, ok := s[path]; !ok || old.size != st.size || !old.mod.Equal(st.mod) {
			diff = append(diff, path)
		}
	}
	for path := range s {
		if _, ok := now[path]; !ok {
			diff = append(diff, path)
		}
	}
	if len(diff) == 0 {
		return "", nil
	}
	return slices.Min(diff), nil
}
