package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/installstore"
)

func verifyCommand() *command {
	return &command{
		name:    "verify",
		args:    "[-concurrency n] [-progress n] [-store URL] [key flags]",
		summary: "open every record and history entry; report each that cannot be decrypted; exit 1 if any",
		help: `Lists the store's records (still sealed), then fetches each one through the
encryption layer with the configured keys, as the app would. Every record that
does not open — tampered, truncated, sealed under a key that is unknown,
disabled or revoked, for the wrong tenant, or not sealed at all — is printed as
FAIL with its tenant, user and the error (which names the field, never a value).
Records deleted while verify runs are counted as gone; records the table holds
but that do not decode are printed as CORRUPT and counted; records that could
not be checked because KMS or DynamoDB did not answer are printed as
UNAVAILABLE (run verify again). With -history (the app keeps installation
history), every tenant's history entries are listed through the encryption
layer too,
and each that does not open is printed as FAIL (history). Exit status 1 if any
record or entry failed, is corrupt or could not be checked. It streams: memory
does not grow with the table, and progress goes to stderr every -progress
records and every -progress-interval. It changes nothing, so an interrupted
verify is simply run again. Audit logs name the reader "cli:verify".`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			addHistoryFlag(fs, tc, "open every tenant's history entries too")
			addScanFlag(fs, tc)
			kc := addKeyFlags(fs, e)
			conc := fs.Int("concurrency", 16, "records fetched in parallel")
			pf := addProgressFlags(fs, 10000)
			return func(ctx context.Context) error {
				if *conc < 1 {
					return usagef("-concurrency must be at least 1")
				}
				if err := pf.check(); err != nil {
					return err
				}
				return verify(installstore.WithCaller(ctx, "cli:verify"), e, tc, kc, *conc, pf)
			}
		},
	}
}

type verifyFailure struct {
	q       installstore.Query
	history bool // a history listing, not a record
	err     error
}

// verifyCounts are verify's results; the caller holds mu.
type verifyCounts struct {
	mu                  sync.Mutex
	failures            []verifyFailure
	ok, gone, bad       int
	unavailable         int
	historyOff          bool
	entries, entriesBad int // history entries opened, and that did not
	historyErrs         int // history listings that failed otherwise
}

func (c *verifyCounts) fail(f verifyFailure) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case errors.Is(f.err, installstore.ErrUnavailable):
		c.unavailable++
	case !f.history:
		c.bad++
	}
	c.failures = append(c.failures, f)
}

// historyFailed records a history listing that failed as a whole: a
// history error unless the backend or KMS was only unavailable.
func (c *verifyCounts) historyFailed(q installstore.Query, err error) {
	if !errors.Is(err, installstore.ErrUnavailable) {
		c.mu.Lock()
		c.historyErrs++
		c.mu.Unlock()
	}
	c.fail(verifyFailure{q: q, history: true, err: err})
}

// verify streams the raw listing into conc fetchers through the encryption
// layer: memory holds conc records in flight and the failures, whatever the
// table's size.
func verify(ctx context.Context, e *env, tc *tableConfig, kc *keyConfig, conc int, pf *progressFlags) error {
	raw, err := tc.rawStore(ctx)
	if err != nil {
		return err
	}
	sealed, err := sealedStore(ctx, tc, kc, raw)
	if err != nil {
		return err
	}
	var c verifyCounts
	p := pf.reporter(e.stderr, "verify", "records listed")
	seen := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	listErr := raw.ListInstallations(gctx, func(q installstore.Query, _ *installstore.Installation) error {
		if err := gctx.Err(); err != nil {
			return err
		}
		seen++
		p.set(seen)
		g.Go(func() error { // blocks while conc fetches are in flight
			inst, err := sealed.FetchInstallation(gctx, q)
			switch {
			case errors.Is(err, installstore.ErrNotFound),
				err == nil && inst.Tenant() != q.Tenant(): // deleted; the query fell back to another record
				c.mu.Lock()
				c.gone++
				c.mu.Unlock()
				return nil
			case err != nil && gctx.Err() != nil:
				return gctx.Err()
			case err != nil:
				c.fail(verifyFailure{q: q, err: err})
			default:
				c.mu.Lock()
				c.ok++
				c.mu.Unlock()
			}
			if q.UserID == "" {
				return verifyHistory(gctx, raw, sealed, q, &c)
			}
			return nil
		})
		return nil
	})
	if err := g.Wait(); err != nil {
		p.stopped(ctx, "verify changes nothing: run it again")
		return fmt.Errorf("verify %s: %w", tc.desc(), err)
	}
	skipped, complete := countSkipped(listErr)
	if !complete {
		p.stopped(ctx, "verify changes nothing: run it again")
		return fmt.Errorf("verify %s: list (after %s): %w", tc.desc(), count(seen, "record"), listErr)
	}
	slices.SortFunc(c.failures, func(a, b verifyFailure) int {
		return cmp.Or(cmp.Compare(a.q.Tenant().Key(), b.q.Tenant().Key()), cmp.Compare(a.q.UserID, b.q.UserID))
	})
	for _, f := range c.failures {
		label := "FAIL"
		if errors.Is(f.err, installstore.ErrUnavailable) {
			label = "UNAVAILABLE"
		}
		if f.history {
			label += " (history)"
		}
		fmt.Fprintf(e.stdout, "%s tenant=%s user=%s: %v\n", label, f.q.Tenant(), dash(f.q.UserID), f.err)
	}
	if listErr != nil {
		fmt.Fprintf(e.stdout, "CORRUPT (not listed, never opened): %v\n", listErr)
	}
	total := seen + skipped
	summary := fmt.Sprintf("verified %s: %d ok, %d failed, %d gone", count(total, "record"), c.ok, c.bad, c.gone)
	if skipped > 0 {
		summary += fmt.Sprintf(", %d corrupt", skipped)
	}
	if c.unavailable > 0 {
		summary += fmt.Sprintf(", %d unavailable (try again)", c.unavailable)
	}
	switch {
	case c.historyOff && c.entries+c.entriesBad == 0:
		summary += "; history off"
	default:
		summary += fmt.Sprintf("; %d history %s: %d ok, %d failed", c.entries+c.entriesBad, entries(c.entries+c.entriesBad), c.entries, c.entriesBad)
	}
	fmt.Fprintln(e.stdout, summary)
	var problems []string
	if c.bad > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d records cannot be decrypted", c.bad, total))
	}
	if skipped > 0 {
		problems = append(problems, fmt.Sprintf("%s corrupt", count(skipped, "record")))
	}
	if c.entriesBad > 0 {
		problems = append(problems, fmt.Sprintf("%d history %s cannot be opened", c.entriesBad, entries(c.entriesBad)))
	}
	if c.historyErrs > 0 {
		problems = append(problems, fmt.Sprintf("the history of %s could not be listed", count(c.historyErrs, "tenant")))
	}
	if c.unavailable > 0 {
		problems = append(problems, fmt.Sprintf("%d could not be checked (KMS or DynamoDB unavailable: run verify again)", c.unavailable))
	}
	if len(problems) > 0 {
		return &failedError{msg: strings.Join(problems, "; ")}
	}
	return nil
}

// entries returns "entry" or "entries".
func entries(n int) string {
	if n == 1 {
		return "entry"
	}
	return "entries"
}

// verifyHistory opens, through sealed, the history entries of the tenant of
// q (a latest record), and those a Grid migration kept under its standalone
// workspace when raw holds no record of it (as backup.Export backs them
// up). An entry that still holds a sealed value did not open.
func verifyHistory(ctx context.Context, raw, sealed installstore.FullStore, q installstore.Query, c *verifyCounts) error {
	c.mu.Lock()
	off := c.historyOff
	c.mu.Unlock()
	if off {
		return nil
	}
	tenants, err := installstore.HistoryTenants(ctx, raw, q)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		c.historyFailed(installstore.Query{TeamID: q.TeamID}, err)
	}
	for _, tq := range tenants {
		err := sealed.ListHistory(ctx, tq, func(inst *installstore.Installation) error {
			var still string
			_ = inst.Secrets(func(field string, s *installstore.Secret) error {
				if s.IsSealed() && still == "" {
					still = field
				}
				return nil
			})
			c.mu.Lock()
			defer c.mu.Unlock()
			if still != "" {
				c.entriesBad++
				hq := tq
				hq.UserID = inst.User.ID
				c.failures = append(c.failures, verifyFailure{q: hq, history: true,
					err: fmt.Errorf("history entry installed at %s: field %s is still sealed (the encryption layer did not open it)", inst.InstalledAt.Format(time.RFC3339), still)})
				return nil
			}
			c.entries++
			return nil
		})
		switch n, complete := countSkipped(err); {
		case err == nil:
		case errors.Is(err, installstore.ErrHistoryOff):
			c.mu.Lock()
			c.historyOff = true
			c.mu.Unlock()
			return nil
		case complete:
			c.mu.Lock()
			c.entriesBad += n
			c.mu.Unlock()
			c.fail(verifyFailure{q: tq, history: true, err: err})
		case ctx.Err() != nil:
			return ctx.Err()
		default:
			c.historyFailed(tq, fmt.Errorf("list history: %w", err))
		}
	}
	return nil
}
