package mq

import "github.com/heddle-go/heddle/harness"

// ClientOptions configures a consumer client.
type ClientOptions struct {
	// Batch is how many messages one Consume asks for; 0 means 16.
	Batch int
	// Deliver receives each batch the client consumed, in order, on the
	// client's goroutine. Nil drops them.
	Deliver func(msgs []Message)
	// Consume, if set, replaces Server.Consume: the loop calls it with the
	// server it runs against (a test records the calls through it).
	Consume func(s *Server, topic, group string, n int) ([]Message, error)
}

// Client is a consumer's loop: it consumes until the group's cursor
// reaches the end of the topic, then waits on the consumer's wake-up
// channel, and exits when that channel is closed (the group was
// destroyed).
type Client struct {
	s    *Server
	c    *Consumer
	opts ClientOptions
	done *harness.Chan[struct{}]
}

// StartClient registers c with s and starts its loop in a new goroutine.
func StartClient(s *Server, c *Consumer, opts ClientOptions) (*Client, error) {
	if opts.Batch <= 0 {
		opts.Batch = 16
	}
	if opts.Consume == nil {
		opts.Consume = func(s *Server, topic, group string, n int) ([]Message, error) { return s.Consume(topic, group, n) }
	}
	if err := s.RegisterConsumer(c); err != nil {
		return nil, err
	}
	cl := &Client{s: s, c: c, opts: opts, done: harness.NewChan[struct{}](0)}
	harness.Go(cl.loop)
	return cl, nil
}

// Subscribe creates group on topic, registers a new consumer for it and
// starts its client.
func Subscribe(s *Server, topic, group string, opts ClientOptions) (*Client, error) {
	if err := s.CreateConsumerGroup(topic, group); err != nil {
		return nil, err
	}
	return StartClient(s, NewConsumer(topic, group), opts)
}

func (cl *Client) loop() {
	defer cl.done.Close()
	for {
		// Consume until nothing is left: wake-ups coalesce, so one
		// wake-up may stand for many messages. An error (the group is
		// gone) also ends the round; the channel's close then ends the
		// loop.
		for {
			msgs, err := cl.opts.Consume(cl.s, cl.c.Topic, cl.c.Group, cl.opts.Batch)
			if err != nil || len(msgs) == 0 {
				break
			}
			if cl.opts.Deliver != nil {
				cl.opts.Deliver(msgs)
			}
		}
		if _, ok := cl.c.MsgMutex.Recv(); !ok {
			return
		}
	}
}

// Done returns a channel that is closed when the client's loop has exited.
func (cl *Client) Done() *harness.Chan[struct{}] { return cl.done }

// Wait blocks until the client's loop has exited.
func (cl *Client) Wait() { cl.done.Recv() }

// Close destroys the client's consumer group and waits for the loop to
// exit.
func (cl *Client) Close() error {
	err := cl.s.DestroyConsumerGroup(cl.c.Topic, cl.c.Group)
	cl.Wait()
	return err
}
