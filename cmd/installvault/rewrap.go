package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
)

func rewrapCommand() *command {
	return &command{
		name:    "rewrap",
		args:    "[-progress n] [-store URL] [key flags]",
		summary: "key rotation: re-seal every record under the current key, online (crypto.Rewrap)",
		help: `Rotate keys by making a new primary (a new KMS key or alias target in
-kms-key / INSTALLVAULT_KMS_KEY_ID, or a new INSTALLVAULT_LOCAL_PRIMARY with the
old key still in INSTALLVAULT_LOCAL_KEYS), then run rewrap while the app keeps
serving. Apps with per-tenant keys (crypto.WithTenantKey) must give the same
mapping with -kms-tenant-keys, or every tenant moves to the default key. Each record is opened with its old key and re-sealed under the current
one with a conditional update, so a concurrent write is never overwritten.

Progress goes to stderr every -progress records and every -progress-interval;
the counts (seen, rewrapped,
already current, gone, failed, corrupt) to stdout. A record counts as already
current only after it opened under the current key. Exit status 1 if any
record failed or the table holds corrupt records (named on stderr): the old
key may be retired only after a run that exits 0.

With -history (the app keeps installation history) every tenant's history
entries are rewrapped too, and counted on a line of their own: retire the old
key only after a run with -history that reports 0 failed there as well.

Rewrap is resumable: records already under the current key are skipped, so
after an interruption (Ctrl-C) or failures, run it again until it reports
0 failed; only then retire the old key (disable it in KMS, or drop it from
INSTALLVAULT_LOCAL_KEYS), and check with 'installvault verify'.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			addScanFlag(fs, tc)
			addHistoryFlag(fs, tc, "rewrap every tenant's history entries too")
			kc := addKeyFlags(fs, e)
			pf := addProgressFlags(fs, 10000)
			return func(ctx context.Context) error {
				if err := pf.check(); err != nil {
					return err
				}
				ctx = installstore.WithCaller(ctx, "cli:rewrap")
				raw, err := tc.rawStore(ctx)
				if err != nil {
					return err
				}
				p := pf.reporter(e.stderr, "rewrap", "records done")
				s, err := sealedStore(ctx, tc, kc, newProgressStore(raw, p))
				if err != nil {
					return err
				}
				st, err := crypto.Rewrap(ctx, s)
				skipped := countCorrupt(err) // records that did not open are in Failed
				fmt.Fprintf(e.stdout, "rewrap: %d seen, %d rewrapped, %d already current, %d gone, %d failed",
					st.Seen, st.Rewrapped, st.Current, st.Gone, st.Failed)
				if skipped > 0 {
					fmt.Fprintf(e.stdout, ", %d corrupt (not listed)", skipped)
				}
				fmt.Fprintln(e.stdout)
				if tc.history {
					fmt.Fprintf(e.stdout, "rewrap: history: %d seen, %d rewrapped, %d already current, %d gone, %d failed\n",
						st.HistorySeen, st.HistoryRewrapped, st.HistoryCurrent, st.HistoryGone, st.HistoryFailed)
				}
				if err != nil {
					if ctx.Err() != nil {
						p.stopped(ctx, "run it again to resume: records already under the current key are skipped")
					}
					fmt.Fprintln(e.stdout, "rewrap: run it again to retry what failed; keep the old key until it reports 0 failed and exits 0")
					var what []string
					if st.Failed > 0 {
						what = append(what, count(st.Failed, "record")+" failed")
					}
					if st.HistoryFailed > 0 {
						what = append(what, fmt.Sprintf("%d history %s failed", st.HistoryFailed, entries(st.HistoryFailed)))
					}
					if skipped > 0 {
						what = append(what, count(skipped, "record")+" corrupt")
					}
					if len(what) > 0 {
						return fmt.Errorf("%s: %w", strings.Join(what, ", "), err)
					}
					return err
				}
				if st.Failed > 0 || st.HistoryFailed > 0 { // Rewrap returns an error then; be safe anyway
					return &failedError{msg: fmt.Sprintf("%s and %d history %s failed", count(st.Failed, "record"), st.HistoryFailed, entries(st.HistoryFailed))}
				}
				return nil
			}
		},
	}
}
