package testenv

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Received is one message accepted by a Sink.
type Received struct {
	From       string
	Recipients []string
	Data       []byte
	At         time.Time
}

// Sink is an in-process SMTP server on loopback that accepts every message
// and hands it to OnMessage. It is for benchmarks and fault injection; the
// end-to-end tests use the real Postfix.
type Sink struct {
	Addr string
	// Connections counts the SMTP connections accepted so far.
	Connections atomic.Int64

	mu        sync.Mutex
	onMessage func(Received)
}

// NewSink starts a sink on 127.0.0.1 with a free port, stopped when the test
// ends. onMessage runs on the connection's goroutine.
func NewSink(t testing.TB, onMessage func(Received)) *Sink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for SMTP sink: %v", err)
	}
	sink := &Sink{Addr: l.Addr().String(), onMessage: onMessage}
	server := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		sink.Connections.Add(1)
		return &sinkSession{sink: sink}, nil
	}))
	server.Domain = "localhost"
	server.AllowInsecureAuth = true
	server.MaxRecipients = 1000
	go server.Serve(l)
	t.Cleanup(func() { server.Close() })
	return sink
}

type sinkSession struct {
	sink *Sink
	msg  Received
}

func (s *sinkSession) Reset()        { s.msg = Received{} }
func (s *sinkSession) Logout() error { return nil }

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	s.msg.From = from
	return nil
}

func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.Recipients = append(s.msg.Recipients, to)
	return nil
}

func (s *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = data
	s.msg.At = time.Now()
	s.sink.onMessage(s.msg)
	s.msg = Received{}
	return nil
}
