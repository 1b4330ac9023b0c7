package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailreactor/mailreactor/internal/mailgen"
)

// fill appends cfg.count generated messages to cfg.mailbox over
// cfg.parallel connections and returns how many the server accepted.
// Progress goes to log.
func fill(ctx context.Context, cfg config, log io.Writer) (int, error) {
	tlsConf, err := cfg.tlsConfig()
	if err != nil {
		return 0, err
	}
	clients, err := connect(cfg, tlsConf)
	if err != nil {
		return 0, err
	}
	defer closeAll(clients)
	if err := checkMailbox(clients[0], cfg.mailbox); err != nil {
		return 0, err
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var done atomic.Int64
	msgs := make(chan mailgen.Message, cfg.parallel*cfg.window)
	go generate(ctx, cfg, msgs)
	stopWatch := watch(ctx, cfg, &done, log, func(err error) {
		// The server no longer responds, so closing the connections ends
		// the waits for its responses.
		cancel(err)
		closeAll(clients)
	})
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			if err := appendAll(ctx, c, cfg, msgs, &done); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	stopWatch()
	if err := context.Cause(ctx); err != nil {
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		return int(done.Load()), err
	}
	for _, c := range clients {
		c.Logout().Wait()
	}
	return int(done.Load()), nil
}

// generate sends the messages of the run to out and closes it.
func generate(ctx context.Context, cfg config, out chan<- mailgen.Message) {
	defer close(out)
	g := mailgen.New(mailgen.Options{Seed: cfg.seed, From: cfg.from, To: cfg.to, Size: cfg.size})
	for range cfg.count {
		select {
		case out <- g.Next():
		case <-ctx.Done():
			return
		}
	}
}

// inflight is an APPEND sent whose response has not arrived yet.
type inflight struct {
	cmd *imapclient.AppendCommand
	msg mailgen.Message
}

// appendAll appends the messages from msgs on one connection, keeping up to
// cfg.window commands in flight, and counts the accepted ones in done. Once
// ctx is done it sends no more, but still waits for the replies owed.
func appendAll(ctx context.Context, c *imapclient.Client, cfg config, msgs <-chan mailgen.Message, done *atomic.Int64) error {
	var queue []inflight
	settle := func() error {
		f := queue[0]
		queue = queue[1:]
		if _, err := f.cmd.Wait(); err != nil {
			return appendError(cfg, f.msg, err)
		}
		done.Add(1)
		return nil
	}
	for m := range msgs {
		if ctx.Err() != nil {
			break
		}
		cmd := c.Append(cfg.mailbox, int64(len(m.Raw)), &imap.AppendOptions{Time: m.Date})
		_, werr := cmd.Write(m.Raw)
		if err := errors.Join(werr, cmd.Close()); err != nil {
			if _, werr := cmd.Wait(); werr != nil {
				err = werr // the server's response is more specific
			}
			return appendError(cfg, m, err)
		}
		queue = append(queue, inflight{cmd, m})
		if len(queue) >= cfg.window {
			if err := settle(); err != nil {
				return err
			}
		}
	}
	for len(queue) > 0 {
		if err := settle(); err != nil {
			return err
		}
	}
	return nil
}

// appendError explains a failed APPEND.
func appendError(cfg config, m mailgen.Message, err error) error {
	action := fmt.Sprintf("appending message <%s> (%d bytes) to %q", m.MessageID, len(m.Raw), cfg.mailbox)
	var ie *imap.Error
	if errors.As(err, &ie) {
		switch ie.Code {
		case imap.ResponseCodeTryCreate, imap.ResponseCodeNonExistent:
			return fmt.Errorf("%s: %v: the mailbox does not exist; create it or pass -mailbox INBOX", action, err)
		case imap.ResponseCodeTooBig, imap.ResponseCodeLimit:
			return fmt.Errorf("%s: %v: the server rejects messages this large; lower -size", action, err)
		case imap.ResponseCodeOverQuota:
			return fmt.Errorf("%s: %v: the mailbox is over quota; lower -count or empty it", action, err)
		}
		return fmt.Errorf("%s: the server rejected it: %v", action, err)
	}
	return fmt.Errorf("%s: %v", action, err)
}

// watch prints progress every cfg.progressEvery and calls stalled when
// nothing has been appended for cfg.stallAfter. stop ends it.
func watch(ctx context.Context, cfg config, done *atomic.Int64, log io.Writer, stalled func(error)) (stop func()) {
	quit, finished := make(chan struct{}), make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(cfg.progressEvery)
		defer t.Stop()
		last, lastChange := int64(0), start
		for {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				n := done.Load()
				fmt.Fprintf(log, "mailfill: %d/%d appended, %.0f msg/s\n", n, cfg.count, float64(n)/now.Sub(start).Seconds())
				if n != last {
					last, lastChange = n, now
				} else if now.Sub(lastChange) >= cfg.stallAfter {
					stalled(fmt.Errorf("no APPEND completed for %s: the server at %s stopped responding; check it and run again", cfg.stallAfter, cfg.addr))
					return
				}
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}
