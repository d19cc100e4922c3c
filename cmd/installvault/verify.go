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
		args:    "[-concurrency n] [-store URL] [key flags]",
		summary: "open every record; report each that cannot be decrypted; exit 1 if any",
		help: `Lists the store's records (still sealed), then fetches each one through the
encryption layer with the configured keys, as the app would. Every record that
does not open — tampered, truncated, sealed under a key that is unknown,
disabled or revoked, for the wrong tenant, or not sealed at all — is printed as
FAIL with its tenant, user and the error (which names the field, never a value).
Records deleted while verify runs are counted as gone; records the table holds
but that do not decode are printed as CORRUPT and counted; records that could
not be checked because KMS or DynamoDB did not answer are printed as
UNAVAILABLE (run verify again). Exit status 1 if any record failed, is corrupt
or could not be checked. It streams: memory does not grow with the table, and
progress goes to stderr every -progress records. It changes nothing, so an
interrupted verify is simply run again. Audit logs name the reader "cli:verify".`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			kc := addKeyFlags(fs, e)
			conc := fs.Int("concurrency", 8, "records fetched in parallel")
			every := fs.Int("progress", 10000, "print progress to stderr every `n` records (0: never)")
			return func(ctx context.Context) error {
				if *conc < 1 {
					return usagef("-concurrency must be at least 1")
				}
				if *every < 0 {
					return usagef("-progress must not be negative")
				}
				return verify(installstore.WithCaller(ctx, "cli:verify"), e, tc, kc, *conc, *every)
			}
		},
	}
}

type verifyFailure struct {
	q   installstore.Query
	err error
}

// verify streams the raw listing into conc fetchers through the encryption
// layer: memory holds conc records in flight and the failures, whatever the
// table's size.
func verify(ctx context.Context, e *env, tc *tableConfig, kc *keyConfig, conc, every int) error {
	raw, err := tc.rawStore(ctx)
	if err != nil {
		return err
	}
	sealed, err := sealedStore(ctx, tc, kc, raw)
	if err != nil {
		return err
	}
	var (
		mu                  sync.Mutex
		failures            []verifyFailure
		seen, ok, gone, bad int
		unavailable         int
	)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	listErr := raw.ListInstallations(gctx, func(q installstore.Query, _ *installstore.Installation) error {
		if err := gctx.Err(); err != nil {
			return err
		}
		seen++
		if every > 0 && seen%every == 0 {
			fmt.Fprintf(e.stderr, "verify: %s listed (%s)\n", count(seen, "record"), time.Since(start).Round(time.Millisecond))
		}
		g.Go(func() error { // blocks while conc fetches are in flight
			inst, err := sealed.FetchInstallation(gctx, q)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, installstore.ErrNotFound),
				err == nil && inst.Tenant() != q.Tenant(): // deleted; the query fell back to another record
				gone++
			case err != nil && gctx.Err() != nil:
				return gctx.Err()
			case errors.Is(err, installstore.ErrUnavailable):
				unavailable++
				failures = append(failures, verifyFailure{q: q, err: err})
			case err != nil:
				bad++
				failures = append(failures, verifyFailure{q: q, err: err})
			default:
				ok++
			}
			return nil
		})
		return nil
	})
	if err := g.Wait(); err != nil {
		return fmt.Errorf("verify %s: %w", tc.desc(), err)
	}
	skipped, complete := countSkipped(listErr)
	if !complete {
		return fmt.Errorf("verify %s: list (after %s): %w", tc.desc(), count(seen, "record"), listErr)
	}
	slices.SortFunc(failures, func(a, b verifyFailure) int {
		return cmp.Or(cmp.Compare(a.q.Tenant().Key(), b.q.Tenant().Key()), cmp.Compare(a.q.UserID, b.q.UserID))
	})
	for _, f := range failures {
		label := "FAIL"
		if errors.Is(f.err, installstore.ErrUnavailable) {
			label = "UNAVAILABLE"
		}
		fmt.Fprintf(e.stdout, "%s tenant=%s user=%s: %v\n", label, f.q.Tenant(), dash(f.q.UserID), f.err)
	}
	if listErr != nil {
		fmt.Fprintf(e.stdout, "CORRUPT (not listed, never opened): %v\n", listErr)
	}
	total := seen + skipped
	summary := fmt.Sprintf("verified %s: %d ok, %d failed, %d gone", count(total, "record"), ok, bad, gone)
	if skipped > 0 {
		summary += fmt.Sprintf(", %d corrupt", skipped)
	}
	if unavailable > 0 {
		summary += fmt.Sprintf(", %d unavailable (try again)", unavailable)
	}
	fmt.Fprintln(e.stdout, summary)
	var problems []string
	if bad > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d records cannot be decrypted", bad, total))
	}
	if skipped > 0 {
		problems = append(problems, fmt.Sprintf("%s corrupt", count(skipped, "record")))
	}
	if unavailable > 0 {
		problems = append(problems, fmt.Sprintf("%d could not be checked (KMS or DynamoDB unavailable: run verify again)", unavailable))
	}
	if len(problems) > 0 {
		return &failedError{msg: strings.Join(problems, "; ")}
	}
	return nil
}
