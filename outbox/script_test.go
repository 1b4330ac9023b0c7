package outbox_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// stage is a point of the SMTP exchange at which a scriptedServer can
// misbehave.
type stage string

const (
	atConnect stage = "connect" // the greeting
	atMail    stage = "mail"    // the reply to MAIL FROM
	atRcpt    stage = "rcpt"    // the reply to RCPT TO
	atData    stage = "data"    // the reply to the DATA command
	atBody    stage = "body"    // while the message is read
	atDot     stage = "dot"     // the reply after the final dot
)

// act is what the server does at a stage. The zero act goes on normally.
type act struct {
	code  int  // reply with this code and the text "scripted <code>"
	drop  bool // close the connection
	stall bool // stop reading and replying until the test ends
	// delay holds the reply back, as a slow server does.
	delay time.Duration
}

// scriptedServer is a line-by-line SMTP server on loopback whose every
// reply a test can script, for faults that a real server cannot be made to
// show on demand.
type scriptedServer struct {
	addr string
	// script returns the act at a stage of transaction tx (counted from 1
	// over the server's life by MAIL commands; 0 at the greeting), with
	// the command's argument.
	script func(s stage, tx int, arg string) act

	released chan struct{}
	mu       sync.Mutex
	txs      int
	conns    int
	// dots are the messages read up to the final dot, accepted or not.
	// accepted are those that got 250.
	dots, accepted []scriptedMessage
}

type scriptedMessage struct {
	from  string
	rcpts []string
	data  []byte
}

func startScripted(t *testing.T, script func(s stage, tx int, arg string) act) *scriptedServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	srv := &scriptedServer{addr: l.Addr().String(), script: script, released: make(chan struct{})}
	var wg sync.WaitGroup
	var conns []net.Conn
	var connsMu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			connsMu.Lock()
			conns = append(conns, conn)
			connsMu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				srv.serve(conn)
			}()
		}
	}()
	t.Cleanup(func() {
		close(srv.released)
		l.Close()
		connsMu.Lock()
		for _, c := range conns {
			c.Close()
		}
		connsMu.Unlock()
		wg.Wait()
	})
	return srv
}

func (s *scriptedServer) snapshot() (conns int, dots, accepted []scriptedMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns, append([]scriptedMessage(nil), s.dots...), append([]scriptedMessage(nil), s.accepted...)
}

// reply writes a scripted act and reports whether the session goes on
// with the normal reply.
func (s *scriptedServer) reply(w *bufio.Writer, a act) (proceed, open bool) {
	if a.delay > 0 {
		select {
		case <-time.After(a.delay):
		case <-s.released:
		}
	}
	switch {
	case a.stall:
		<-s.released
		return false, false
	case a.drop:
		return false, false
	case a.code != 0:
		fmt.Fprintf(w, "%d scripted %d\r\n", a.code, a.code)
		w.Flush()
		return false, a.code != 421
	}
	return true, true
}

func (s *scriptedServer) serve(conn net.Conn) {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	r, w := bufio.NewReader(conn), bufio.NewWriter(conn)
	say := func(line string) { w.WriteString(line + "\r\n"); w.Flush() }
	if proceed, _ := s.reply(w, s.script(atConnect, 0, "")); !proceed {
		return
	}
	say("220 localhost scripted ESMTP")
	var msg scriptedMessage
	tx := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		var a act
		var next func() bool
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			say("250-localhost\r\n250 8BITMIME")
			continue
		case "MAIL":
			s.mu.Lock()
			s.txs++
			tx = s.txs
			s.mu.Unlock()
			msg = scriptedMessage{from: address(arg)}
			a, next = s.script(atMail, tx, msg.from), func() bool { say("250 2.1.0 ok"); return true }
		case "RCPT":
			rcpt := address(arg)
			a = s.script(atRcpt, tx, rcpt)
			next = func() bool { msg.rcpts = append(msg.rcpts, rcpt); say("250 2.1.5 ok"); return true }
		case "DATA":
			a, next = s.script(atData, tx, ""), func() bool { return s.readData(r, w, tx, &msg) }
		case "RSET", "NOOP":
			say("250 2.0.0 ok")
			continue
		case "QUIT":
			say("221 2.0.0 bye")
			return
		default:
			say("502 5.5.2 unknown command")
			continue
		}
		proceed, open := s.reply(w, a)
		if proceed {
			open = next()
		}
		if !open {
			return
		}
	}
}

// readData reads the message after 354 and replies after the final dot.
func (s *scriptedServer) readData(r *bufio.Reader, w *bufio.Writer, tx int, msg *scriptedMessage) bool {
	w.WriteString("354 go ahead\r\n")
	w.Flush()
	if a := s.script(atBody, tx, ""); a.drop || a.stall {
		// Read a little, then act while the client is still writing.
		r.Discard(1024)
		proceed, _ := s.reply(w, a)
		return proceed
	}

	var data bytes.Buffer
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		if line == ".\r\n" {
			break
		}
		data.WriteString(strings.TrimPrefix(line, "."))
	}
	msg.data = data.Bytes()

	s.mu.Lock()
	s.dots = append(s.dots, *msg)
	s.mu.Unlock()
	proceed, open := s.reply(w, s.script(atDot, tx, ""))
	if !proceed {
		return open
	}
	s.mu.Lock()
	s.accepted = append(s.accepted, *msg)
	s.mu.Unlock()
	fmt.Fprintf(w, "250 2.0.0 queued as TX%d\r\n", tx)
	w.Flush()
	return true
}

// address returns the address inside "FROM:<a@b>" or "TO:<a@b> ...".
func address(arg string) string {
	start, end := strings.IndexByte(arg, '<'), strings.IndexByte(arg, '>')
	if start < 0 || end < start {
		return arg
	}
	return arg[start+1 : end]
}
