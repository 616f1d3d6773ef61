package rewrite

import (
	"fmt"
	"os"
	"testing"
)

// TestDebugPrint prints the rewrite of $HEDDLE_REWRITE_PKG (a development aid).
func TestDebugPrint(t *testing.T) {
	pkg := os.Getenv("HEDDLE_REWRITE_PKG")
	if pkg == "" {
		t.Skip("HEDDLE_REWRITE_PKG not set")
	}
	dir := os.Getenv("HEDDLE_REWRITE_DIR")
	if dir == "" {
		dir = "."
	}
	pkgs, err := Load(dir, nil, pkg)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Rewrite(pkgs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("HEDDLE_OVERLAY_DIR"); out != "" {
		var ov Overlay
		if err := ov.AddFiles(out, files); err != nil {
			t.Fatal(err)
		}
		if err := ov.WriteFile(out + "/overlay.json"); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, f := range files {
		fmt.Printf("==== %s\n%s\n", f.Path, f.Content)
	}
}

// TestDebugOverlay writes the snippets' overlay into $HEDDLE_OVERLAY_DIR (a
// development aid: go test -overlay $HEDDLE_OVERLAY_DIR/overlay.json ...).
func TestDebugOverlay(t *testing.T) {
	dir := os.Getenv("HEDDLE_OVERLAY_DIR")
	if dir == "" {
		t.Skip("HEDDLE_OVERLAY_DIR not set")
	}
	path := rewriteSnippets(t)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/overlay.json", b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", b)
}
