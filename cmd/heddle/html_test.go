package main

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// pageText is a page with its tags removed and its entities decoded.
func pageText(t *testing.T, path string) (raw, text string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	raw = string(data)
	text = regexp.MustCompile(`(?s)<(style|script)[^>]*>.*?</(style|script)>`).ReplaceAllString(raw, "")
	return raw, html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(text, ""))
}

// has fails the test unless page holds want, without printing the page.
func has(t *testing.T, page, want string) {
	t.Helper()
	if !strings.Contains(page, want) {
		t.Fatalf("the page does not hold %q", want)
	}
}

func TestReplayHTML(t *testing.T) {
	needRace(t)
	page := filepath.Join(t.TempDir(), "racy.html")
	r := run(t, "replay", "racy", "--variant", "buggy", "--seed", "3", "--html", page)
	require.Equal(t, exitFailed, r.status, r.stderr)
	require.Contains(t, r.stderr, "heddle: wrote "+page)
	raw, text := pageText(t, page)
	has(t, raw, "<title>heddle: racy/buggy — DataRace</title>")
	has(t, text, "data race: ")
	has(t, text, "go run -race ./cmd/heddle replay racy --variant buggy --seed 3")
	// main and the two incrementers each have a lane; the incrementers race.
	require.Equal(t, 2, strings.Count(raw, `data-mark="DataRace"`), "both goroutines of the race are marked")
	require.Regexp(t, `<tr class="goroutine" data-g="1" data-node=""`, raw)

	// A passing seed still gets its page, saying so.
	r = run(t, "replay", "racy", "--variant", "buggy", "--seed", "4", "--html", page)
	require.Equal(t, exitOK, r.status, r.stderr)
	_, text = pageText(t, page)
	has(t, text, "No violation")

	r = run(t, "replay", "racy", "--variant", "buggy", "--seed", "4", "--mode", "real", "--html", page)
	require.Equal(t, exitBadArgs, r.status)
	require.Contains(t, r.stderr, "--html needs a deterministic run")
}

func TestReplayScheduleHTML(t *testing.T) {
	dir := t.TempDir()
	r := run(t, "run", "flaky", "--save", "--dir", dir, "--json")
	require.Equal(t, exitFailed, r.status)
	saved := reports(t, r.stdout)[0].SavedPath
	require.NotEmpty(t, saved)
	page := filepath.Join(dir, "flaky.html")
	r = run(t, "replay", "flaky", "--schedule", saved, "--html", page)
	require.Equal(t, exitFailed, r.status, r.stderr)
	raw, text := pageText(t, page)
	has(t, text, "Deadlock")
	has(t, text, "every goroutine is blocked")
	has(t, text, "replay flaky --variant fixed --schedule "+saved)
	has(t, raw, `data-mark="Deadlock"`) // the blocked main goroutine
	has(t, raw, "<dt>seed</dt><dd><code>5</code></dd>")
}

func TestRunHTMLWritesAPagePerFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pages")
	r := run(t, "run", "flaky", "counter", "--html", dir, "--json")
	require.Equal(t, exitFailed, r.status, r.stderr) // flaky's only variant fails
	reps := reports(t, r.stdout)
	var want []string
	for _, rep := range reps {
		if rep.FirstFailingSeed == nil {
			continue
		}
		name := fmt.Sprintf("%s-%s-%s-seed%d.html", rep.Case, rep.Variant, strings.ToLower(string(rep.Kind)), *rep.FirstFailingSeed)
		want = append(want, name)
		path := filepath.Join(dir, name)
		require.Contains(t, r.stderr, "heddle: wrote "+path)
		_, text := pageText(t, path)
		has(t, text, string(rep.Kind))
		has(t, text, rep.Replay) // the command that replays it
	}
	require.Len(t, want, 2, "flaky/fixed fails and counter/buggy finds its bug; counter/fixed passes")
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, files, len(want))

	r = run(t, "run", "flaky", "--mode", "real", "--html", dir)
	require.Equal(t, exitBadArgs, r.status)
	r = run(t, "run", "flaky", "--explorations", "2", "--html", dir)
	require.Equal(t, exitBadArgs, r.status)
}
