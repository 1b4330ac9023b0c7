package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pingChannelPrefix starts the private channel on which a listener pings
// itself.
const pingChannelPrefix = "reactor_ping_"

// maxIdentifier is the longest channel or application name that Postgres
// keeps (NAMEDATALEN - 1 bytes).
const maxIdentifier = 63

// pinger detects a LISTEN connection that stopped delivering without an
// error, as one behind a dead NAT entry or a frozen server does. Every
// interval it sends a notification on its private channel through the
// pool. When the previous one has not come back, it closes the connection,
// so pgxlisten reconnects and the backlog handlers sweep.
type pinger struct {
	listener *Listener
	channel  string
	interval time.Duration

	mu        sync.Mutex
	conn      net.Conn // the current LISTEN connection, nil between connections
	listening bool     // LISTEN on channel is in place on conn
	seq       uint64
	waiting   uint64 // the ping that has not come back, 0 for none
	sentAt    time.Time
}

func newPinger(l *Listener) *pinger {
	return &pinger{listener: l, channel: pingChannel(l.Instance), interval: l.PingInterval}
}

// pingChannel returns a channel name of this process alone: the instance
// name in lowercase letters, digits and underscores, and a random suffix,
// since two processes may share an instance name.
func pingChannel(instance string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(instance) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := b.String()
	if room := maxIdentifier - len(pingChannelPrefix) - 1 - 2*len(suffix); len(name) > room {
		name = name[:room]
	}
	return pingChannelPrefix + name + "_" + hex.EncodeToString(suffix)
}

// connect opens the LISTEN connection through Listener.Connect, names it in
// pg_stat_activity, and starts watching it.
func (p *pinger) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := p.listener.Connect(ctx)
	if err != nil {
		return nil, err
	}
	name := "mailreactor listen " + p.listener.Instance
	if len(name) > maxIdentifier {
		name = name[:maxIdentifier]
	}
	if _, err := conn.Exec(ctx, "SELECT set_config('application_name', $1, false)", name); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	p.mu.Lock()
	p.conn, p.listening, p.waiting = conn.PgConn().Conn(), false, 0
	p.mu.Unlock()
	return conn, nil
}

// lost drops the connection after pgxlisten reported an error on it.
func (p *pinger) lost() {
	p.mu.Lock()
	p.conn, p.listening, p.waiting = nil, false, 0
	p.mu.Unlock()
}

// HandleBacklog runs once LISTEN on the ping channel is in place.
func (p *pinger) HandleBacklog(context.Context, string, *pgx.Conn) error {
	p.mu.Lock()
	p.listening = true
	p.mu.Unlock()
	return nil
}

// HandleNotification takes a ping back.
func (p *pinger) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	seq, err := strconv.ParseUint(n.Payload, 10, 64)
	p.mu.Lock()
	back := err == nil && seq != 0 && seq == p.waiting
	if back {
		p.waiting = 0
	}
	p.mu.Unlock()
	if back {
		p.listener.pingsReturned.Add(1)
	}
	return nil
}

// run pings every interval until ctx ends.
func (p *pinger) run(ctx context.Context) {
	ticker := time.NewTicker(p.interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			p.tick(ctx)
		}
	}
}

// tick closes the connection when the last ping is overdue, and otherwise
// sends the next one. A ping is overdue at the first tick at least half an
// interval after it was sent.
func (p *pinger) tick(ctx context.Context) {
	p.mu.Lock()
	if p.conn == nil || !p.listening {
		p.mu.Unlock()
		return
	}
	if p.waiting != 0 {
		if since := time.Since(p.sentAt); since >= p.interval/2 {
			conn := p.conn
			p.conn, p.listening, p.waiting = nil, false, 0
			p.mu.Unlock()
			p.listener.Log.Warn("LISTEN connection returned no ping; closing it to reconnect",
				"channel", p.channel, "waited", since.Round(time.Millisecond))
			conn.Close()
			return
		}
		p.mu.Unlock()
		return
	}
	p.seq++
	seq := p.seq
	p.waiting = seq
	p.mu.Unlock()

	pingCtx, cancel := context.WithTimeout(ctx, p.interval)
	err := p.listener.Ping(pingCtx, p.channel, strconv.FormatUint(seq, 10))
	cancel()

	p.mu.Lock()
	if err != nil && p.waiting == seq {
		// The pool could not send it, which tells nothing about the
		// listener's connection.
		p.waiting = 0
	}
	p.sentAt = time.Now()
	p.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		p.listener.Log.Debug("send LISTEN ping failed", "channel", p.channel, "err", err)
	}
}
