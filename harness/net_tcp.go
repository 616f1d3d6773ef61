package harness

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// TCP returns a Host on real loopback sockets (127.0.0.1), with the same
// message semantics as the simulated network: each message is framed by its
// length. It lets a system written against Host run over a real socket, in
// real mode or with no World at all; inside a deterministic World a real
// socket would block outside heddle's control (a Stuck run), so use nodes
// there. Errors are the simulated network's where they match: ErrConnRefused,
// ErrConnReset (wrapped around the system's error), io.EOF, net.ErrClosed,
// and ctx.Err() when a call's context ends first.
func TCP() Host { return tcpHost{} }

// maxTCPMessage bounds a message's length on the wire.
const maxTCPMessage = 64 << 20

type tcpHost struct{}

func (tcpHost) Listen(port int) (Listener, error) {
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("harness: tcp listen: bad port %d", port)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, tcpError(err)
	}
	return &tcpListener{ln: ln.(*net.TCPListener)}, nil
}

func (tcpHost) Dial(ctx context.Context, addr string) (Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, tcpError(err)
	}
	return &tcpConn{c: c.(*net.TCPConn)}, nil
}

type tcpListener struct {
	ln *net.TCPListener
	mu sync.Mutex // one Accept at a time: they share the deadline
}

func (l *tcpListener) Accept(ctx context.Context) (Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var c *net.TCPConn
	err := withContext(ctx, l.ln.SetDeadline, func() (err error) {
		c, err = l.ln.AcceptTCP()
		return err
	})
	if err != nil {
		return nil, err
	}
	return &tcpConn{c: c}, nil
}

func (l *tcpListener) Close() error { return tcpError(l.ln.Close()) }
func (l *tcpListener) Addr() string { return l.ln.Addr().String() }

type tcpConn struct {
	c      *net.TCPConn
	rmu    sync.Mutex // one reader at a time: a frame is read whole
	wmu    sync.Mutex // one writer at a time: a frame is written whole
	header [4]byte    // read side, under rmu
}

func (t *tcpConn) Send(ctx context.Context, msg []byte) error {
	if len(msg) > maxTCPMessage {
		return fmt.Errorf("harness: tcp send: message of %d bytes exceeds %d", len(msg), maxTCPMessage)
	}
	frame := make([]byte, 4+len(msg))
	binary.BigEndian.PutUint32(frame, uint32(len(msg)))
	copy(frame[4:], msg)
	t.wmu.Lock()
	defer t.wmu.Unlock()
	return withContext(ctx, t.c.SetWriteDeadline, func() error {
		_, err := t.c.Write(frame)
		return err
	})
}

func (t *tcpConn) Recv(ctx context.Context) ([]byte, error) {
	t.rmu.Lock()
	defer t.rmu.Unlock()
	var msg []byte
	err := withContext(ctx, t.c.SetReadDeadline, func() error {
		if _, err := io.ReadFull(t.c, t.header[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(t.header[:])
		if n > maxTCPMessage {
			return fmt.Errorf("harness: tcp recv: frame of %d bytes exceeds %d", n, maxTCPMessage)
		}
		msg = make([]byte, n)
		_, err := io.ReadFull(t.c, msg)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	})
	return msg, err
}

func (t *tcpConn) Close() error       { return tcpError(t.c.Close()) }
func (t *tcpConn) LocalAddr() string  { return t.c.LocalAddr().String() }
func (t *tcpConn) RemoteAddr() string { return t.c.RemoteAddr().String() }

// withContext runs the blocking socket operation op under ctx: the socket's
// deadline is ctx's, and cancelling ctx moves it to the past.
func withContext(ctx context.Context, setDeadline func(time.Time) error, op func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dl, _ := ctx.Deadline()
	_ = setDeadline(dl)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = setDeadline(time.Unix(1, 0))
		close(fired)
	})
	err := op()
	if !stop() {
		<-fired
		_ = setDeadline(time.Time{})
	}
	if isTimeout(err) {
		if e := ctx.Err(); e != nil {
			return e
		}
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			return context.DeadlineExceeded
		}
	}
	return tcpError(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// tcpError maps socket errors to the simulated network's.
func tcpError(err error) error {
	switch {
	case err == nil || err == io.EOF:
		return err
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w (%v)", ErrConnRefused, err)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("%w (%v)", ErrConnReset, err)
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%w (%v)", ErrAddrInUse, err)
	}
	return err
}
