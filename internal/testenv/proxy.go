package testenv

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on loopback in front of a real server, for fault
// injection: it can stop forwarding while keeping both sockets open, drop
// every connection, and refuse new ones.
type Proxy struct {
	Addr   string
	target string
	t      testing.TB

	mu       sync.Mutex
	listener net.Listener
	conns    []net.Conn
	// dead are the connections that were open during a blackhole; they
	// never forward again, as after a NAT timeout.
	dead map[net.Conn]bool
	// resume is closed when new connections may proceed.
	resume  chan struct{}
	accepts []time.Time
	done    chan struct{}
	closed  bool
	// dropAfter, when set, closes each connection whose client was
	// silent that long.
	dropAfter time.Duration
}

// NewProxy starts a proxy to target on a free loopback port, stopped when
// the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen for proxy: %v", err)
	}
	p := &Proxy{Addr: l.Addr().String(), target: target, t: t, listener: l,
		resume: make(chan struct{}), dead: make(map[net.Conn]bool), done: make(chan struct{})}
	close(p.resume)
	go p.serve(l)
	t.Cleanup(p.close)
	return p
}

func (p *Proxy) serve(l net.Listener) {
	for {
		client, err := l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.accepts = append(p.accepts, time.Now())
		resume := p.resume
		p.mu.Unlock()
		select {
		case <-resume:
		case <-p.done:
			client.Close()
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		var inactive *time.Timer
		if p.dropAfter > 0 {
			inactive = time.AfterFunc(p.dropAfter, func() {
				client.Close()
				server.Close()
			})
		}
		p.mu.Unlock()
		go p.pipe(client, server, inactive)
		go p.pipe(server, client, nil)
	}
}

// pipe copies from src to dst until either side closes, and stops for
// good once src is marked dead.
func (p *Proxy) pipe(src, dst net.Conn, inactive *time.Timer) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if p.isDead(src) {
			<-p.done
			return
		}
		if n > 0 && inactive != nil {
			inactive.Reset(p.dropAfter)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) isDead(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dead[c]
}

// Blackhole stops forwarding on every open connection for good, while
// keeping its sockets open, as a NAT that forgot the mapping or a frozen
// server does: no error reaches the client. New connections hang until
// Heal.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		p.dead[c] = true
	}
	p.conns = nil
	p.resume = make(chan struct{})
}

// Heal lets new connections through again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.resume:
	default:
		close(p.resume)
	}
}

// DropAfter closes every connection accepted from now on once its client
// sent nothing for d, as a server with a short inactivity timeout does.
func (p *Proxy) DropAfter(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropAfter = d
}

// Refuse closes the listening socket, so new connections are refused,
// and drops every open connection.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.listener.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Accept listens on the same address again after Refuse.
func (p *Proxy) Accept() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	l, err := net.Listen("tcp", p.Addr)
	if err != nil {
		p.t.Fatalf("listen again on %s: %v", p.Addr, err)
	}
	p.listener = l
	go p.serve(l)
}

// Accepts returns the times of the connections accepted so far.
func (p *Proxy) Accepts() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.accepts...)
}

func (p *Proxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	close(p.done)
	p.listener.Close()
	for _, c := range p.conns {
		c.Close()
	}
	for c := range p.dead {
		c.Close()
	}
}
