package rewrite

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Overlay is the file go build and go test read with -overlay: each original
// path is compiled from the file its entry names, and the original is never
// read (nor written).
type Overlay struct {
	Replace map[string]string `json:"Replace"`
}

// Add writes content into dir under a name made of its content's hash and
// the original file's name, and replaces path with it. Writing the same
// content twice writes one file: dir can be a cache shared by runs.
func (o *Overlay) Add(dir, path string, content []byte) error {
	sum := sha256.Sum256(content)
	name := filepath.Join(dir, hex.EncodeToString(sum[:12])+"-"+filepath.Base(path))
	if _, err := os.Stat(name); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("rewrite: overlay: %w", err)
		}
		tmp := name + ".tmp"
		if err := os.WriteFile(tmp, content, 0o644); err != nil {
			return fmt.Errorf("rewrite: overlay: %w", err)
		}
		if err := os.Rename(tmp, name); err != nil {
			return fmt.Errorf("rewrite: overlay: %w", err)
		}
	}
	if o.Replace == nil {
		o.Replace = map[string]string{}
	}
	o.Replace[path] = name
	return nil
}

// AddFiles adds every rewritten file.
func (o *Overlay) AddFiles(dir string, files []File) error {
	for _, f := range files {
		if err := o.Add(dir, f.Path, f.Content); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes the overlay as JSON, for go test -overlay path.
func (o *Overlay) WriteFile(path string) error {
	b, err := json.MarshalIndent(o, "", "\t")
	if err != nil {
		return fmt.Errorf("rewrite: overlay: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("rewrite: overlay: %w", err)
	}
	return nil
}
