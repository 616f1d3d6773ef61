package driver

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestFindModuleTool: a module that has heddle as a tool (go get -tool) is
// told apart from one that only requires it, so that replay commands say
// go tool heddle.
func TestFindModuleTool(t *testing.T) {
	for _, tc := range []struct {
		name, gomod     string
		tool, hasHeddle bool
	}{
		{"tool", "module example.com/m\n\ngo 1.25.0\n\nrequire github.com/heddle-go/heddle v0.1.0\n\ntool github.com/heddle-go/heddle/cmd/heddle\n", true, true},
		{"require", "module example.com/m\n\ngo 1.25.0\n\nrequire github.com/heddle-go/heddle v0.1.0\n", false, true},
		{"plain", "module example.com/m\n\ngo 1.25.0\n", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(tc.gomod), 0o644); err != nil {
				t.Fatal(err)
			}
			env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
			m, err := findModule(context.Background(), dir, env)
			if err != nil {
				t.Fatal(err)
			}
			if m.tool != tc.tool || m.hasHeddle != tc.hasHeddle || m.path != "example.com/m" {
				t.Errorf("tool %v, requires heddle %v, path %s; want %v, %v, example.com/m", m.tool, m.hasHeddle, m.path, tc.tool, tc.hasHeddle)
			}
		})
	}
}
