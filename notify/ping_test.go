package notify

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mailreactor/mailreactor/internal/testenv"
)

// freezingProxy forwards TCP connections to a target until freeze, after
// which the connections open at that moment stop forwarding in both
// directions but stay open, as behind a NAT device that forgot them.
// Connections opened later forward normally.
type freezingProxy struct {
	addr   string
	target string

	mu     sync.Mutex
	conns  []*proxiedConn
	closed bool
}

type proxiedConn struct {
	client, server net.Conn
	frozen         chan struct{}
	once           sync.Once
}

func startProxy(t *testing.T, target string) *freezingProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for proxy: %v", err)
	}
	p := &freezingProxy{addr: l.Addr().String(), target: target}
	go p.serve(l)
	t.Cleanup(func() {
		l.Close()
		p.mu.Lock()
		p.closed = true
		for _, c := range p.conns {
			c.client.Close()
			c.server.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *freezingProxy) serve(l net.Listener) {
	for {
		client, err := l.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		c := &proxiedConn{client: client, server: server, frozen: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		go c.pipe(server, client)
		go c.pipe(client, server)
	}
}

// pipe copies src to dst until either closes or the connection freezes.
func (c *proxiedConn) pipe(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		select {
		case <-c.frozen:
			// Hold the bytes and read no more, so the peer gets silence.
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				dst.Close()
			}
			return
		}
	}
}

// freeze stops every connection that is open now.
func (p *freezingProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.once.Do(func() { close(c.frozen) })
	}
}

func TestPingReconnectsFrozenListener(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	config, err := pgx.ParseConfig(db.URL)
	if err != nil {
		t.Fatalf("parse database URL: %v", err)
	}
	proxy := startProxy(t, net.JoinHostPort(config.Host, strconv.Itoa(int(config.Port))))
	host, port, _ := net.SplitHostPort(proxy.addr)
	portNum, _ := strconv.Atoi(port)
	config.Host, config.Port = host, uint16(portNum)

	log, logs := captureLog()
	// Every test's outbox rows notify email_outbox in the shared database,
	// so the handler keeps the events that this test waits for and never
	// blocks the listener.
	events := make(chan Event, 100)
	var wanted atomic.Int64
	keep := func(e Event) {
		if e.Backlog || e.ID == wanted.Load() {
			select {
			case events <- e:
			default:
			}
		}
	}
	l := &Listener{
		Connect:      func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, config.Copy()) },
		Log:          log,
		OnEvent:      keep,
		Channels:     []string{ChannelOutbox},
		Ping:         db.Store.Notify,
		PingInterval: 100 * time.Millisecond,
		Instance:     "ping-test",
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Errorf("Run did not return within 15 s of cancel")
		}
	})

	event(t, events, "the first backlog event", func(e Event) bool { return e.Backlog })
	// A healthy connection returns its pings and is kept.
	testenv.WaitFor(t, 10*time.Second, "five pings back", func() bool { return l.pingsReturned.Load() >= 5 })
	if strings.Contains(logs.String(), "returned no ping") {
		t.Fatalf("a healthy connection was closed: %s", logs.String())
	}
	select {
	case e := <-events:
		if e.Backlog {
			t.Fatalf("backlog event %+v while the connection was healthy", e)
		}
	default:
	}

	proxy.freeze()
	frozenAt := time.Now()
	event(t, events, "the backlog event after reconnect", func(e Event) bool { return e.Backlog })
	t.Logf("reconnected %v after the freeze", time.Since(frozenAt).Round(time.Millisecond))
	if !strings.Contains(logs.String(), "LISTEN connection returned no ping") {
		t.Errorf("log %q: want a warning about the silent connection", logs.String())
	}

	// The new connection listens.
	id := randomID()
	wanted.Store(id)
	db.Exec(t, "SELECT pg_notify('email_outbox', $1)", strconv.FormatInt(id, 10))
	event(t, events, "a NOTIFY after reconnect", func(e Event) bool { return e.ID == id })
}

func TestPingChannel(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("Host-Ż.example.com-", 10)
	for _, instance := range []string{"host-1234", "", long} {
		a, b := pingChannel(instance), pingChannel(instance)
		if a == b {
			t.Errorf("pingChannel(%q): got %q twice, want a random suffix", instance, a)
		}
		if len(a) > maxIdentifier {
			t.Errorf("pingChannel(%q): got %d bytes, want at most %d", instance, len(a), maxIdentifier)
		}
		if !strings.HasPrefix(a, pingChannelPrefix) {
			t.Errorf("pingChannel(%q) = %q, want prefix %q", instance, a, pingChannelPrefix)
		}
		for _, r := range a {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
				t.Errorf("pingChannel(%q) = %q, has %q", instance, a, r)
				break
			}
		}
	}
}
