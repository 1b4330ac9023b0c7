// Command imapload is a light IMAP server for load tests of the reactor:
// go-imap's in-memory server with many users, each with an empty INBOX,
// on one loopback port. It is no mail server: everything is lost on exit.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on; only loopback addresses are accepted")
	users := flag.Int("users", 1000, "number of users, named user00000@example.test and up, password \"secret\"")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("imapload: -addr %q: use a loopback address such as 127.0.0.1:11430", *addr)
	}

	mem := imapmemserver.New()
	for i := range *users {
		user := imapmemserver.NewUser(fmt.Sprintf("user%05d@example.test", i), "secret")
		if err := user.Create("INBOX", nil); err != nil {
			log.Fatalf("imapload: create INBOX: %v", err)
		}
		mem.AddUser(user)
	}
	server := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
		Logger:       log.New(os.Stderr, "imapload: ", 0),
	})
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("imapload: listen: %v", err)
	}
	// The benchmark reads the address from the first line.
	fmt.Println(l.Addr().String())

	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
		<-stop
		server.Close()
	}()
	if err := server.Serve(l); err != nil && !errors.Is(err, net.ErrClosed) {
		log.Fatalf("imapload: %v", err)
	}
}
