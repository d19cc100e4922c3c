package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/installvault/installvault/backup"
	"github.com/installvault/installvault/installstore"
)

// progressFlags are the -progress and -progress-interval flags of a long
// command.
type progressFlags struct {
	every    *int
	interval *time.Duration
}

func addProgressFlags(fs *flag.FlagSet, every int) *progressFlags {
	return &progressFlags{
		every:    fs.Int("progress", every, "print progress to stderr every `n` records (0: never by count)"),
		interval: fs.Duration("progress-interval", 10*time.Second, "and at least every `duration` while it runs (0: never by time)"),
	}
}

func (f *progressFlags) check() error {
	if *f.every < 0 {
		return usagef("-progress must not be negative")
	}
	if *f.interval < 0 {
		return usagef("-progress-interval must not be negative")
	}
	return nil
}

// progress prints, on stderr, how far a long command is: when the count
// reaches a multiple of every, or interval after the last line, whichever
// comes first, with the rate and the time elapsed. It is safe for
// concurrent use.
type progress struct {
	w        io.Writer
	label    string // the command
	what     string // "records done", "listed", ...
	every    int
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	start time.Time
	last  time.Time // of the last line printed
	next  int       // the next multiple of every to print at
	n     int
}

func (f *progressFlags) reporter(w io.Writer, label, what string) *progress {
	p := &progress{w: w, label: label, what: what, every: *f.every, interval: *f.interval, now: time.Now}
	p.start = p.now()
	p.last = p.start
	p.next = p.every
	return p
}

// set records that n are done (n never goes down).
func (p *progress) set(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n <= p.n {
		return
	}
	p.n = n
	now := p.now()
	byCount := p.every > 0 && n >= p.next
	byTime := p.interval > 0 && now.Sub(p.last) >= p.interval
	if !byCount && !byTime {
		return
	}
	if p.every > 0 {
		p.next = (n/p.every + 1) * p.every
	}
	p.last = now
	elapsed := now.Sub(p.start)
	rate := ""
	if s := elapsed.Seconds(); s > 0 {
		rate = fmt.Sprintf("%.0f/s, ", float64(n)/s)
	}
	fmt.Fprintf(p.w, "%s: %d %s (%s%s)\n", p.label, n, p.what, rate, elapsed.Round(time.Millisecond))
}

// add records one more done.
func (p *progress) add() {
	p.mu.Lock()
	n := p.n + 1
	p.mu.Unlock()
	p.set(n)
}

// done returns the count so far.
func (p *progress) done() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// option is the progress as a backup option; nil when neither flag asks
// for progress.
func (p *progress) option() []backup.Option {
	if p.every <= 0 && p.interval <= 0 {
		return nil
	}
	return []backup.Option{backup.WithProgress(p.set)}
}

// stopped prints, after a command failed or was interrupted, how far it
// got and how to resume it.
func (p *progress) stopped(ctx context.Context, resume string) {
	why := "failed"
	if ctx.Err() != nil {
		why = "was interrupted"
	}
	fmt.Fprintf(p.w, "%s: %s after %d %s (%s): %s\n", p.label, why, p.done(), p.what, p.now().Sub(p.start).Round(time.Millisecond), resume)
}

// progressStore is a layer that reports, as a listing hands out records
// and the consumer finishes with them, how many that was. Placed under the
// encryption layer, it reports crypto.Rewrap's progress without changing
// it.
type progressStore struct {
	installstore.Passthrough
	p *progress
}

func newProgressStore(inner installstore.FullStore, p *progress) *progressStore {
	return &progressStore{Passthrough: installstore.Passthrough{Inner: inner}, p: p}
}

// Unwrap implements installstore.Unwrapper.
func (s *progressStore) Unwrap() []installstore.FullStore { return []installstore.FullStore{s.Inner} }

// ListInstallations lists Inner and reports progress.
func (s *progressStore) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	return s.Inner.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		err := fn(q, inst)
		s.p.add()
		return err
	})
}
