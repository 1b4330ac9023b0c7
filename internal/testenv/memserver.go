package testenv

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// MemServer is an in-process IMAP server on loopback with one user, for
// tests that need a server Dovecot cannot imitate, such as one without
// IDLE.
type MemServer struct {
	Addr     string
	User     string
	Password string
	user     *imapmemserver.User
}

// NewMemServer starts a server with one user whose INBOX exists. Unless
// withIdle is set, the server does not advertise IDLE: go-imap's server
// always does, so its CAPABILITY lines are rewritten on the way out. It
// stops when the test ends.
func NewMemServer(t testing.TB, withIdle bool) *MemServer {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("user@example.test", "secret")
	if err := user.Create("INBOX", nil); err != nil {
		t.Fatalf("create INBOX: %v", err)
	}
	mem.AddUser(user)

	capSet := imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}}
	server := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         capSet,
		InsecureAuth: true,
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for IMAP server: %v", err)
	}
	if !withIdle {
		l = noIdleListener{l}
	}
	go server.Serve(l)
	t.Cleanup(func() { server.Close() })
	return &MemServer{Addr: l.Addr().String(), User: "user@example.test", Password: "secret", user: user}
}

// Append stores raw in mailbox directly on the server side.
func (s *MemServer) Append(t testing.TB, mailbox string, raw []byte) {
	t.Helper()
	_, err := s.user.Append(mailbox, literal{bytes.NewReader(raw), int64(len(raw))}, &imap.AppendOptions{Time: time.Now()})
	if err != nil {
		t.Fatalf("append to %s: %v", mailbox, err)
	}
}

type literal struct {
	*bytes.Reader
	size int64
}

func (l literal) Size() int64 { return l.size }

// noIdleListener hides IDLE from the capabilities a server sends.
type noIdleListener struct{ net.Listener }

func (l noIdleListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return noIdleConn{c}, nil
}

type noIdleConn struct{ net.Conn }

// Write drops the IDLE capability. go-imap's server flushes its buffer
// after each response, so a capability list arrives in one write; the
// rewrite would also touch message text in the same write, which the tests
// that use it do not send.
func (c noIdleConn) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("CAPABILITY")) {
		out := bytes.ReplaceAll(p, []byte(" IDLE"), nil)
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}
