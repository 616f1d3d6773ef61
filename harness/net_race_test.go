package harness

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Programs on two nodes that share a variable behind the network's back, to
// check which happens-before edges the network adds: Send before the Recv
// that gets the message, Dial before Accept, Close before the peer's EOF, and
// nothing else. Each runs in a child process (a fresh race detector).
var netRacePrograms = map[string]func(){
	"send-recv": func() {
		x := 0
		twoNodes(func(c Conn) {
			x = 1
			_ = c.Send(context.Background(), []byte("m"))
		}, func(c Conn) {
			_, _ = c.Recv(context.Background())
			x = 2
		})
		_ = x
	},
	"dial-accept": func() {
		x := 0
		a := NewNode("a", nil)
		b := NewNode("b", nil)
		_ = a.Start()
		_ = b.Start()
		l, _ := b.Listen(1)
		var wg WaitGroup
		wg.Add(2)
		_ = b.Go(func() {
			defer wg.Done()
			c, _ := l.Accept(context.Background())
			x = 2
			_ = c.Close()
		})
		_ = a.Go(func() {
			defer wg.Done()
			x = 1
			c, _ := a.Dial(context.Background(), "b:1")
			_ = c.Close()
		})
		wg.Wait()
		_ = x
		_ = a.Crash(CrashReset)
		_ = b.Crash(CrashReset)
	},
	"close-eof": func() {
		x := 0
		twoNodes(func(c Conn) {
			x = 1
			_ = c.Close()
		}, func(c Conn) {
			_, _ = c.Recv(context.Background())
			x = 2
		})
		_ = x
	},
	// The receiver writes before it receives: nothing orders the writes.
	"write-before-recv": func() {
		x := 0
		twoNodes(func(c Conn) {
			x = 1
			_ = c.Send(context.Background(), []byte("m"))
		}, func(c Conn) {
			x = 2
			_, _ = c.Recv(context.Background())
		})
		_ = x
	},
	// Two messages on one connection order nothing between the two
	// goroutines that sent them.
	"two-senders": func() {
		x := 0
		twoNodes(func(c Conn) {
			var wg WaitGroup
			for i := 0; i < 2; i++ {
				wg.Go(func() {
					x = i
					_ = c.Send(context.Background(), []byte("m"))
				})
			}
			wg.Wait()
		}, func(c Conn) {
			_, _ = c.Recv(context.Background())
			_, _ = c.Recv(context.Background())
		})
		_ = x
	},
}

// twoNodes connects node a to node b and runs fa and fb on them, each with
// its end of the connection, and waits for both.
func twoNodes(fa, fb func(c Conn)) {
	a := NewNode("a", nil)
	b := NewNode("b", nil)
	_ = a.Start()
	_ = b.Start()
	l, _ := b.Listen(1)
	var wg WaitGroup
	wg.Add(2)
	_ = b.Go(func() {
		defer wg.Done()
		c, err := l.Accept(context.Background())
		if err == nil {
			fb(c)
		}
	})
	_ = a.Go(func() {
		defer wg.Done()
		c, err := a.Dial(context.Background(), "b:1")
		if err == nil {
			fa(c)
		}
	})
	wg.Wait()
	_ = a.Crash(CrashReset)
	_ = b.Crash(CrashReset)
}

// TestNetRaceChild is the child side of TestNetHappensBefore.
func TestNetRaceChild(t *testing.T) {
	name := os.Getenv("HEDDLE_NET_RACE_CHILD")
	if name == "" {
		t.Skip("run by TestNetHappensBefore")
	}
	for seed := int64(0); seed < 10; seed++ {
		res := Run(Options{Seed: seed}, netRacePrograms[name])
		require.False(t, res.Failed(), "%v", res.Err())
	}
}

func TestNetHappensBefore(t *testing.T) {
	if !raceEnabled || !tokenHidesEdges {
		t.Skip("needs -race on amd64 or arm64")
	}
	cases := []struct {
		program string
		racy    bool
	}{
		{"send-recv", false},
		{"dial-accept", false},
		{"close-eof", false},
		{"write-before-recv", true},
		{"two-senders", true},
	}
	for _, c := range cases {
		t.Run(c.program, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestNetRaceChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "HEDDLE_NET_RACE_CHILD="+c.program, "GORACE=atexit_sleep_ms=0")
			out, _ := cmd.CombinedOutput()
			reported := strings.Contains(string(out), "WARNING: DATA RACE")
			require.Equal(t, c.racy, reported, "race reported: %v; output:\n%s", reported, out)
			if c.racy {
				for _, site := range racingAccessSites(string(out)) {
					require.Contains(t, site, "net_race_test.go", "both racing accesses are the program's own, never the network's")
				}
			}
		})
	}
}
