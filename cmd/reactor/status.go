package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailreactor/mailreactor/store"
)

// maxErrorWidth is how much of a last error the status table shows.
const maxErrorWidth = 100

// statusReport is everything that reactor status prints.
type statusReport struct {
	now      time.Time
	accounts []store.AccountStatus
	folders  []store.FolderStatus
	outbox   store.OutboxSummary
}

// cmdStatus prints the accounts, the folders and the outbox as the
// reactors recorded them in the database, so it works from any host.
func cmdStatus(ctx context.Context, e env) error {
	_, _, st, err := setup(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.CheckSchema(ctx); err != nil {
		return err
	}

	var r statusReport
	if r.now, err = st.DatabaseNow(ctx); err != nil {
		return err
	}
	if r.accounts, err = st.AccountStatuses(ctx); err != nil {
		return err
	}
	if r.folders, err = st.FolderStatuses(ctx); err != nil {
		return err
	}
	if r.outbox, err = st.OutboxStatus(ctx); err != nil {
		return err
	}
	r.print(e.stdout)
	return nil
}

func (r statusReport) print(w io.Writer) {
	fmt.Fprintln(w, "ACCOUNTS")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDRESS\tENABLED\tSTATUS\tERROR_AT\tLAST_ERROR")
	for _, a := range r.accounts {
		fmt.Fprintf(tw, "%d\t%s\t%t\t%s\t%s\t%s\n", a.ID, a.Address, a.Enabled, a.Status,
			r.ago(a.LastErrorAt), clip(a.LastError))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nFOLDERS")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tFOLDER\tWATCHER\tSINCE\tRECENT_SYNC\tFULL_SYNC\tMESSAGES\tERROR_AT\tLAST_ERROR")
	for _, f := range r.folders {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", f.AccountID, f.Name, orDash(f.WatchState),
			r.ago(f.WatchStateAt), r.ago(f.LastRecentSync), r.ago(f.LastFullSync), f.Messages,
			r.ago(f.LastErrorAt), clip(f.LastError))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nOUTBOX")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tROWS")
	statuses := []string{"queued", "sending", "sent", "failed"}
	for status := range r.outbox.Counts {
		if !slices.Contains(statuses, status) {
			statuses = append(statuses, status)
		}
	}
	sort.Strings(statuses[4:])
	for _, status := range statuses {
		fmt.Fprintf(tw, "%s\t%d\n", status, r.outbox.Counts[status])
	}
	tw.Flush()
	oldest := "-"
	if r.outbox.Counts["queued"] > 0 {
		oldest = r.outbox.OldestQueued.Round(time.Second).String()
	}
	fmt.Fprintf(w, "oldest queued: %s\n", oldest)
}

// ago formats a time as its age by the database's clock, or - for none.
func (r statusReport) ago(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return r.now.Sub(*t).Round(time.Second).String() + " ago"
}

func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

// clip puts an error on one line of at most maxErrorWidth characters.
func clip(s *string) string {
	text := strings.Join(strings.Fields(orDash(s)), " ")
	if r := []rune(text); len(r) > maxErrorWidth {
		return string(r[:maxErrorWidth-3]) + "..."
	}
	return text
}
