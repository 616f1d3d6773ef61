package harness

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func seedPtr(s int64) *int64 { return &s }

func sampleReports() []Report {
	return []Report{
		{Case: "mq", Variant: "buggy", Verdict: VerdictFound, OK: true, Kind: "DataRace", Expect: []string{"DataRace"},
			FirstFailingSeed: seedPtr(17), SeedsTried: 18, SeedsPerSecond: 90, TimeToDetect: 0.2, Elapsed: 0.3,
			Strategy: "default", Mode: "deterministic", Replay: "go run -race ./cmd/heddle replay mq --variant buggy --seed 17"},
		{Case: "mq", Variant: "fixed", Verdict: VerdictFail, OK: false, Kind: "Leak", FirstFailingSeed: seedPtr(3),
			SeedsTried: 4, Elapsed: 0.1, Strategy: "pct:3:100", Mode: "deterministic", Reason: "Leak at seed 3",
			Message: "1 goroutine(s) still alive <&>"},
		{Case: "replica", Variant: "fixed", Verdict: VerdictPass, OK: true, SeedsTried: 2000, Elapsed: 31, Strategy: "default", Mode: "deterministic"},
	}
}

func TestJSONLinesShape(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteJSONLines(&b, sampleReports()))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 3)
	for _, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		for _, k := range []string{"case", "variant", "verdict", "ok", "first_failing_seed", "seeds_tried",
			"seeds_per_second", "time_to_detect_seconds", "strategy", "mode"} {
			require.Contains(t, m, k, l)
		}
	}
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &m))
	require.Equal(t, 17.0, m["first_failing_seed"])
	require.Equal(t, "DataRace", m["kind"])
	require.Contains(t, m["replay"], "replay mq --variant buggy --seed 17")
	require.NoError(t, json.Unmarshal([]byte(lines[2]), &m))
	require.Nil(t, m["first_failing_seed"], "null when no seed failed")

	back, err := ReadJSONLines(strings.NewReader("not json\n" + b.String()))
	require.NoError(t, err)
	require.Equal(t, sampleReports(), back)
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, sampleReports()))
	out := b.String()
	require.Contains(t, out, "CASE")
	require.Contains(t, out, "FIRST SEED")
	require.Regexp(t, `mq\s+buggy\s+found\s+DataRace\s+17\s+18\s+300ms`, out)
	require.Regexp(t, `mq\s+fixed\s+FAIL\s+Leak\s+3\s+4`, out)
	require.Regexp(t, `replica\s+fixed\s+pass\s+-\s+-\s+2000\s+31s`, out)
}

func TestJUnit(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteJUnit(&b, sampleReports()))
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Class   string `xml:"classname,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Type    string `xml:"type,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	require.NoError(t, xml.Unmarshal(b.Bytes(), &doc), b.String())
	require.Equal(t, 3, doc.Tests)
	require.Equal(t, 1, doc.Failures)
	require.Len(t, doc.Suites, 2)
	require.Equal(t, "heddle/mq", doc.Suites[0].Name)
	require.Len(t, doc.Suites[0].Cases, 2)
	f := doc.Suites[0].Cases[1].Failure
	require.NotNil(t, f)
	require.Equal(t, "fail", f.Type)
	require.Contains(t, f.Message, "mq/fixed: fail: Leak at seed 3")
	require.Equal(t, "1 goroutine(s) still alive <&>", f.Text)
	require.Nil(t, doc.Suites[0].Cases[0].Failure)
}

func TestMergeShards(t *testing.T) {
	shard := func(k string, tried int, first *int64, verdict string, ok bool) Report {
		return Report{Case: "mq", Variant: "buggy", Expect: []string{"DataRace"}, Shard: k, SeedsTried: tried, SeedsPlanned: 50,
			FirstFailingSeed: first, Verdict: verdict, OK: ok, Elapsed: 1, Kind: map[bool]string{true: "DataRace"}[first != nil],
			Replay: "replay " + k}
	}
	merged := MergeReports([]Report{
		shard("2/3", 12, seedPtr(34), VerdictFound, true),
		shard("1/3", 3, seedPtr(6), VerdictFound, true),
		shard("3/3", 50, nil, VerdictMissed, false),
		{Case: "a", Variant: "fixed", Verdict: VerdictPass, OK: true, SeedsTried: 10, Elapsed: 2, Shard: "1/2"},
		{Case: "a", Variant: "fixed", Verdict: VerdictFail, Kind: "Leak", FirstFailingSeed: seedPtr(9), SeedsTried: 5, Elapsed: 1, Shard: "2/2", Reason: "Leak at seed 9"},
	})
	require.Len(t, merged, 2)
	a, mq := merged[0], merged[1]
	require.Equal(t, "a", a.Case)
	require.Equal(t, VerdictFail, a.Verdict)
	require.False(t, a.OK)
	require.Equal(t, int64(9), *a.FirstFailingSeed)
	require.Equal(t, 15, a.SeedsTried)
	require.Equal(t, 5.0, a.SeedsPerSecond)

	require.Equal(t, VerdictFound, mq.Verdict)
	require.True(t, mq.OK)
	require.Equal(t, int64(6), *mq.FirstFailingSeed, "the lowest failing seed over the shards")
	require.Equal(t, "replay 1/3", mq.Replay)
	require.Equal(t, 65, mq.SeedsTried)
	require.Equal(t, 150, mq.SeedsPlanned)
	require.Equal(t, "1/3,2/3,3/3", mq.Shard)

	// No shard found the bug: missed.
	merged = MergeReports([]Report{shard("1/2", 25, nil, VerdictMissed, false), shard("2/2", 25, nil, VerdictMissed, false)})
	require.Equal(t, VerdictMissed, merged[0].Verdict)
	require.Contains(t, merged[0].Reason, "50 seed(s) passed")
}

func TestChromeTrace(t *testing.T) {
	res := Run(Options{Seed: 3, Trace: true}, func() {
		var mu Mutex
		var wg WaitGroup
		ch := NewChan[int](1)
		for i := 0; i < 3; i++ {
			wg.Go(func() {
				Sleep(time.Duration(i) * time.Millisecond)
				mu.Lock()
				Note("worker %d", i)
				mu.Unlock()
				ch.Send(i)
				ch.Recv()
			})
		}
		wg.Wait()
	})
	require.False(t, res.Failed())
	evs := EventRecords(res.Trace)
	require.NotEmpty(t, evs)
	var b bytes.Buffer
	require.NoError(t, WriteChromeTrace(&b, evs))
	var doc struct {
		TraceEvents []struct {
			Name string         `json:"name"`
			Ph   string         `json:"ph"`
			Ts   float64        `json:"ts"`
			Dur  float64        `json:"dur"`
			Pid  int            `json:"pid"`
			Tid  int            `json:"tid"`
			Args map[string]any `json:"args"`
		} `json:"traceEvents"`
	}
	require.NoError(t, json.Unmarshal(b.Bytes(), &doc))
	threads := map[int]bool{}
	procs := map[string]bool{}
	runs := 0
	last := -1.0
	for _, e := range doc.TraceEvents {
		switch e.Ph {
		case "M":
			if e.Name == "thread_name" {
				threads[e.Tid] = true
			} else {
				procs[e.Args["name"].(string)] = true
			}
		case "X":
			runs++
			require.Greater(t, e.Dur, 0.0)
			fallthrough
		case "i":
			require.GreaterOrEqual(t, e.Ts, last, "events in time order")
			last = e.Ts
			require.Contains(t, e.Args, "virtual_time")
			require.True(t, threads[e.Tid], "goroutine %d has a named track", e.Tid)
		default:
			t.Fatalf("unexpected phase %q", e.Ph)
		}
	}
	require.Equal(t, map[string]bool{"main": true}, procs)
	require.Len(t, threads, res.Goroutines+1, "one track per goroutine (the timer spawner included)")
	require.Greater(t, runs, 5)

	var text bytes.Buffer
	require.NoError(t, WriteTraceText(&text, evs))
	require.Equal(t, len(evs), strings.Count(text.String(), "\n"))
	require.Contains(t, text.String(), "report_test.go:")
}
