package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/installstore"
)

func verifyCommand() *command {
	return &command{
		name:    "verify",
		args:    "[-concurrency n] [-table name] [key flags]",
		summary: "open every record; report each that cannot be decrypted; exit 1 if any",
		help: `Lists the table's records (still sealed), then fetches each one through the
encryption layer with the configured keys, as the app would. Every record that
does not open — tampered, truncated, sealed under a key that is unknown,
disabled or revoked, for the wrong tenant, or not sealed at all — is printed as
FAIL with its tenant, user and the error (which names the field, never a value).
Records deleted while verify runs are counted as gone. Exit status 1 if any
record failed. Audit logs name the reader "cli:verify".`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			kc := addKeyFlags(fs, e)
			conc := fs.Int("concurrency", 8, "records fetched in parallel")
			return func(ctx context.Context) error {
				if *conc < 1 {
					return usagef("-concurrency must be at least 1")
				}
				return verify(installstore.WithCaller(ctx, "cli:verify"), e, tc, kc, *conc)
			}
		},
	}
}

type verifyFailure struct {
	q   installstore.Query
	err error
}

func verify(ctx context.Context, e *env, tc *tableConfig, kc *keyConfig, conc int) error {
	raw, err := tc.rawStore(ctx)
	if err != nil {
		return err
	}
	sealed, err := sealedStore(ctx, tc, kc, raw)
	if err != nil {
		return err
	}
	var queries []installstore.Query
	if err := raw.ListInstallations(ctx, func(q installstore.Query, _ *installstore.Installation) error {
		queries = append(queries, q)
		return nil
	}); err != nil {
		return fmt.Errorf("list table %s: %w", tc.table, err)
	}

	var (
		mu       sync.Mutex
		failures []verifyFailure
		ok, gone int
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for _, q := range queries {
		g.Go(func() error {
			inst, err := sealed.FetchInstallation(gctx, q)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, installstore.ErrNotFound),
				err == nil && inst.Tenant() != q.Tenant(): // deleted; the query fell back to the organization
				gone++
			case err != nil && gctx.Err() != nil:
				return gctx.Err()
			case err != nil:
				failures = append(failures, verifyFailure{q: q, err: err})
			default:
				ok++
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("verify table %s: %w", tc.table, err)
	}
	slices.SortFunc(failures, func(a, b verifyFailure) int {
		return cmp.Or(cmp.Compare(a.q.Tenant().String(), b.q.Tenant().String()), cmp.Compare(a.q.UserID, b.q.UserID))
	})
	for _, f := range failures {
		fmt.Fprintf(e.stdout, "FAIL tenant=%s user=%s: %v\n", f.q.Tenant(), dash(f.q.UserID), f.err)
	}
	fmt.Fprintf(e.stdout, "verified %d records: %d ok, %d failed, %d gone\n", len(queries), ok, len(failures), gone)
	if len(failures) > 0 {
		return &failedError{msg: fmt.Sprintf("%d of %d records cannot be decrypted", len(failures), len(queries))}
	}
	return nil
}
