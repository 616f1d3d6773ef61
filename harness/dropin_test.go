package harness

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDeterministicWorld(t *testing.T) {
	require.False(t, DeterministicWorld(), "outside any World")
	var det, real bool
	Run(Options{}, func() { det = DeterministicWorld() })
	Run(Options{Mode: Real}, func() { real = DeterministicWorld() })
	assert.True(t, det, "inside a deterministic World")
	assert.False(t, real, "inside a Real World")
}

// A goroutine that polls in a loop is spinning, and the World with nothing
// else to do is idle; NoteProgress ends the spin without a scheduling
// point, and a pending timer means the World can still move by itself.
func TestNoteProgressAndIdle(t *testing.T) {
	require.False(t, Idle(), "outside any World")
	var got []bool
	res := Run(Options{}, func() {
		for range 2 {
			Poll()
		}
		got = append(got, Idle())
		steps := activeWorld().loadStep()
		NoteProgress()
		got = append(got, activeWorld().loadStep() != steps) // a scheduling point?
		got = append(got, Idle())
		for range 2 {
			Poll()
		}
		tm := NewTimer(time.Hour)
		got = append(got, Idle())
		tm.Stop()
		Poll()
		got = append(got, Idle())
	})
	require.NoError(t, res.Err())
	assert.Equal(t, []bool{true, false, false, false, true}, got,
		"idle after polls; NoteProgress no scheduling point; not idle after it; not idle with a timer; idle again")
}

// TestStuckOutsideChild is run by TestStuckOutsideNamesTheCall: a goroutine
// of the World reads from a TCP connection that nobody writes to.
func TestStuckOutsideChild(t *testing.T) {
	if os.Getenv("HEDDLE_STUCK_OUTSIDE_CHILD") == "" {
		t.Skip("run by TestStuckOutsideNamesTheCall")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(time.Minute)
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	res := Run(Options{Watchdog: 300 * time.Millisecond}, func() {
		Go(func() {
			buf := make([]byte, 1)
			conn.Read(buf) // the read that blocks
		})
		Yield()
	})
	require.Len(t, res.Failures, 1, "%v", res.Err())
	t.Logf("STUCK %s", res.Failures[0].Kind)
	t.Logf("MESSAGE %s", res.Failures[0].Message)
}

func TestStuckOutsideNamesTheCall(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestStuckOutsideChild$", "-test.count=1", "-test.v", "-test.timeout=1m")
	cmd.Env = append(os.Environ(), "HEDDLE_STUCK_OUTSIDE_CHILD=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	s := string(out)
	assert.Contains(t, s, "STUCK Stuck")
	assert.Contains(t, s, "goroutine 2 blocked in net.(*conn).Read [IO wait], outside heddle's control (harness/dropin_test.go:")
	assert.Contains(t, s, "without reaching a scheduling point for 300ms of wall-clock time")
}

func TestDescribeOutside(t *testing.T) {
	frames := func(fns ...string) []frame {
		var out []frame
		for _, fn := range fns {
			file := "/go/src/x.go:1"
			if strings.HasPrefix(fn, "example.com/app") {
				file = "/home/u/app/client.go:88"
			}
			out = append(out, frame{fn: fn + "(...)", file: file})
		}
		return out
	}
	cases := []struct {
		d    dumpedGoroutine
		want string
	}{
		{dumpedGoroutine{state: "IO wait", frames: frames("runtime.gopark", "internal/poll.(*FD).Read", "net.(*netFD).Read",
			"net.(*conn).Read", "example.com/app.client", "example.com/app.main")},
			"goroutine 7 blocked in net.(*conn).Read [IO wait], outside heddle's control (app/client.go:88), without reaching a scheduling point for 10s"},
		{dumpedGoroutine{state: "semacquire", frames: frames("runtime.gopark", "sync.runtime_SemacquireWaitGroup",
			"sync.(*WaitGroup).Wait", "github.com/lib/pool.(*Pool).Close", "example.com/app.client")},
			"goroutine 7 blocked in github.com/lib/pool.(*Pool).Close [semacquire], outside heddle's control (app/client.go:88)"},
		{dumpedGoroutine{state: "chan receive", frames: frames("runtime.gopark", "runtime.chanrecv1",
			"github.com/heddle-go/heddle/harness/std/lang.Ops[...].RecvOK", "example.com/app.client")},
			"goroutine 7 blocked [chan receive] waiting for a channel that only code outside heddle's control can fill"},
		{dumpedGoroutine{state: "running", frames: frames("example.com/app.spin", "example.com/app.client")},
			"goroutine 7 ran without reaching a scheduling point for 10s of wall-clock time at app/client.go:88"},
	}
	for _, c := range cases {
		assert.Contains(t, describeOutside(c.d, 7, "10s", "example.com/app"), c.want)
	}
}
