// Package notify listens on the reactor's Postgres channels through
// pgxlisten and turns notifications into events. It listens first and
// then reports a backlog sweep, so a row queued while the listener was
// down is never missed.
package notify

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
)

// Channel names, fixed by the triggers in sql/triggers.sql.
const (
	ChannelOutbox   = "email_outbox"
	ChannelAccounts = "email_accounts"
	// ChannelPresence carries a usr_id whose presence was updated.
	ChannelPresence = "email_presence"
	// ChannelSync carries a sync request: "acntid" or "acntid,emfdid".
	ChannelSync = "email_sync"
)

// reconnectDelay is how long the listener waits before it reconnects
// after losing its connection. A short delay bounds how long new outbox
// rows wait after a database restart; the backlog sweep after reconnect
// picks up what was queued meanwhile.
const reconnectDelay = 2 * time.Second

// Event is one notification. ID is the row id from the payload; All is set
// when the payload was empty or unparseable, or after a (re)connect, and
// means "look at everything". Backlog marks the event sent after each
// (re)connect, once LISTEN is in place.
type Event struct {
	Channel string
	ID      int64
	// FolderID is the second id of an "acntid,emfdid" payload.
	FolderID int64
	All      bool
	Backlog  bool
}

// Listener delivers events from the channels it handles.
type Listener struct {
	// Connect opens a dedicated connection for LISTEN.
	Connect func(ctx context.Context) (*pgx.Conn, error)
	Log     *slog.Logger
	// OnEvent receives every event. It runs on the listener's goroutine,
	// so it must not block for long.
	OnEvent func(Event)
	// Channels to listen on.
	Channels []string

	// Ping, when set with PingInterval, sends a notification through a
	// connection other than the listener's. The listener then pings itself
	// every PingInterval on a private channel and reconnects when a ping
	// has not come back by the next one.
	Ping         func(ctx context.Context, channel, payload string) error
	PingInterval time.Duration
	// Instance names this process in the ping channel and in the LISTEN
	// connection's application_name.
	Instance string

	// pingsReturned counts the pings that came back.
	pingsReturned atomic.Int64
}

// Run listens until ctx is cancelled, reconnecting after errors.
func (l *Listener) Run(ctx context.Context) error {
	var ping *pinger
	if l.Ping != nil && l.PingInterval > 0 {
		ping = newPinger(l)
	}
	listener := &pgxlisten.Listener{
		Connect:        l.Connect,
		ReconnectDelay: reconnectDelay,
		LogError: func(ctx context.Context, err error) {
			if ping != nil {
				ping.lost()
			}
			if ctx.Err() == nil {
				l.Log.Warn("LISTEN connection failed, reconnecting", "delay", reconnectDelay, "err", err)
			}
		},
	}
	for _, channel := range l.Channels {
		listener.Handle(channel, &handler{listener: l, channel: channel})
	}
	if ping != nil {
		listener.Connect = ping.connect
		listener.Handle(ping.channel, ping)
		done := make(chan struct{})
		defer func() { <-done }()
		go func() {
			defer close(done)
			ping.run(ctx)
		}()
	}
	l.Log.Debug("listening", "channels", l.Channels)
	return listener.Listen(ctx)
}

type handler struct {
	listener *Listener
	channel  string
}

func (h *handler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	h.listener.OnEvent(parse(h.listener.Log, n.Channel, n.Payload))
	return nil
}

// HandleBacklog runs after every (re)connect, once LISTEN is in place.
func (h *handler) HandleBacklog(_ context.Context, channel string, _ *pgx.Conn) error {
	h.listener.OnEvent(Event{Channel: channel, All: true, Backlog: true})
	return nil
}

// parse reads a payload. Payloads are hints: an empty one requests a full
// sweep, and one that is not a row id gets a warning and a full sweep.
func parse(log *slog.Logger, channel, payload string) Event {
	if payload == "" {
		return Event{Channel: channel, All: true}
	}
	first, second, pair := strings.Cut(payload, ",")
	if pair && channel != ChannelSync {
		// Only sync requests name a folder after the account.
		first = payload
	}
	id, err := strconv.ParseInt(first, 10, 64)
	var folderID int64
	if err == nil && pair && channel == ChannelSync {
		folderID, err = strconv.ParseInt(second, 10, 64)
		if folderID <= 0 {
			err = strconv.ErrRange
		}
	}
	if err != nil || id <= 0 {
		if len(payload) > 64 {
			// Cut at a rune boundary so the log stays valid UTF-8.
			cut := 64
			for cut > 0 && !utf8.RuneStart(payload[cut]) {
				cut--
			}
			payload = payload[:cut] + "..."
		}
		log.Warn("notification payload is not a row id; sweeping everything", "channel", channel, "payload", payload)
		return Event{Channel: channel, All: true}
	}
	return Event{Channel: channel, ID: id, FolderID: folderID}
}
