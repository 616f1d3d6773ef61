package harness_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heddle-go/heddle/harness"
)

// Two nodes on the simulated network: an echo server, crashed and restarted,
// and a client that sees the crash as a reset.
func ExampleNewNode() {
	harness.Run(harness.Options{Seed: 1}, func() {
		server := harness.NewNode("server", func(n *harness.Node) {
			// The node's state lives inside main: a restart starts afresh.
			l, _ := n.Listen(7)
			for {
				c, err := l.Accept(n.Context())
				if err != nil {
					return
				}
				harness.Go(func() {
					for {
						m, err := c.Recv(n.Context())
						if err != nil {
							return
						}
						_ = c.Send(n.Context(), m)
					}
				})
			}
		})
		client := harness.NewNode("client", nil)
		_ = server.Start()
		_ = client.Start()
		harness.Sleep(time.Millisecond) // let the server listen

		ctx, cancel := harness.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, _ := client.Dial(ctx, "server:7")
		_ = c.Send(ctx, []byte("hello"))
		m, _ := c.Recv(ctx)
		fmt.Printf("%s\n", m)

		_ = server.Crash(harness.CrashReset)
		_, err := c.Recv(ctx)
		fmt.Println(errors.Is(err, harness.ErrConnReset))

		_ = server.Restart()
		harness.Sleep(time.Millisecond)
		c2, err := client.Dial(ctx, "server:7")
		fmt.Println(err == nil, server.Incarnation())
		_ = c2.Close()
		_ = server.Crash(harness.CrashReset) // its goroutines stop: not a leak
	})
	// Output:
	// hello
	// true
	// true 2
}
