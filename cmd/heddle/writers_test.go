package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heddle-go/heddle/harness"
	"github.com/heddle-go/heddle/harness/explore"
)

func seedPtr(s int64) *int64 { return &s }

func sampleReports() []explore.Report {
	return []explore.Report{
		{Case: "mq", Variant: "buggy", Verdict: explore.VerdictFound, OK: true, Kind: harness.DataRace, Expect: []harness.Kind{harness.DataRace},
			FirstFailingSeed: seedPtr(17), SeedsTried: 18, SeedsPerSecond: 90, TimeToDetect: 0.2, Elapsed: 0.3,
			Strategy: "default", Mode: "deterministic", Replay: "go run -race ./cmd/heddle replay mq --variant buggy --seed 17"},
		{Case: "mq", Variant: "fixed", Verdict: explore.VerdictFail, OK: false, Kind: harness.Leak, FirstFailingSeed: seedPtr(3),
			SeedsTried: 4, Elapsed: 0.1, Strategy: "pct:3:100", Mode: "deterministic", Reason: "Leak at seed 3",
			Message: "1 goroutine(s) still alive <&>"},
		{Case: "replica", Variant: "fixed", Verdict: explore.VerdictPass, OK: true, SeedsTried: 2000, Elapsed: 31, Strategy: "default", Mode: "deterministic"},
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeTable(&b, sampleReports()))
	out := b.String()
	require.Contains(t, out, "CASE")
	require.Contains(t, out, "FIRST SEED")
	require.Regexp(t, `mq\s+buggy\s+found\s+DataRace\s+17\s+18\s+300ms`, out)
	require.Regexp(t, `mq\s+fixed\s+FAIL\s+Leak\s+3\s+4`, out)
	require.Regexp(t, `replica\s+fixed\s+pass\s+-\s+-\s+2000\s+31s`, out)
}

func TestJUnit(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeJUnit(&b, sampleReports()))
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

func TestChromeTrace(t *testing.T) {
	res := harness.Run(harness.Options{Seed: 3, Trace: true}, func() {
		var mu harness.Mutex
		var wg harness.WaitGroup
		ch := harness.NewChan[int](1)
		for i := 0; i < 3; i++ {
			wg.Go(func() {
				harness.Sleep(time.Duration(i) * time.Millisecond)
				mu.Lock()
				harness.Note("worker %d", i)
				mu.Unlock()
				ch.Send(i)
				ch.Recv()
			})
		}
		wg.Wait()
	})
	require.False(t, res.Failed())
	evs := explore.EventRecords(res.Trace)
	require.NotEmpty(t, evs)
	var b bytes.Buffer
	require.NoError(t, writeChromeTrace(&b, evs))
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
	require.NoError(t, writeTraceText(&text, evs))
	require.Equal(t, len(evs), strings.Count(text.String(), "\n"))
	require.Contains(t, text.String(), "writers_test.go:")
}
