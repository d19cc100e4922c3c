package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/installvault/installvault/backup"
	"github.com/installvault/installvault/installstore"
	"github.com/installvault/installvault/internal/storeurl"
)

func exportCommand() *command {
	return &command{
		name:    "export",
		args:    "[-o file] [-force] [-progress n] [-store URL]",
		summary: "write every record and history entry, still sealed, as JSON lines to a file or stdout (backup.Export)",
		help: `Reads the store below the encryption layer: the backup holds sealed values
only, no key is needed to make it, and restoring it needs the same keys (keep
the old keys until no backup sealed under them is needed). A record holding a
plaintext secret makes export fail. With -o, the file is written beside its
final name and renamed when complete (mode 0600); an existing file is kept
unless -force. With -history (the app keeps installation history), every
tenant's history entries are in the backup too. Counts go to stderr, and progress
(every -progress records and history entries, and every -progress-interval).

A record the store holds but that does not decode (corrupt) cannot be backed
up: export writes every other record, names the corrupt ones on stderr and
exits 1 with their count. Export streams: memory does not grow with the
table; an interrupted export leaves no file (-o), and is simply run again.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			addHistoryFlag(fs, tc, "export every tenant's history entries too")
			addScanFlag(fs, tc)
			out := fs.String("o", "-", "output `file`; - for stdout")
			force := fs.Bool("force", false, "replace an existing output file")
			pf := addProgressFlags(fs, 10000)
			return func(ctx context.Context) error {
				if *out == "" {
					return usagef("-o must name a file or -")
				}
				if err := pf.check(); err != nil {
					return err
				}
				raw, err := tc.rawStore(ctx)
				if err != nil {
					return err
				}
				p := pf.reporter(e.stderr, "export", "written")
				opts := p.option()
				var n backup.Stats
				if *out == "-" {
					w := bufio.NewWriter(e.stdout)
					n, err = backup.Export(ctx, raw, w, opts...)
					if ferr := w.Flush(); err == nil || ferr != nil {
						err = cmp.Or(ferr, err)
					}
				} else {
					n, err = exportFile(ctx, *out, *force, func(w io.Writer) (backup.Stats, error) {
						return backup.Export(ctx, raw, w, opts...)
					})
				}
				var skipped *backup.SkippedError
				if err != nil && !errors.As(err, &skipped) {
					resume := "no file was written; run the same command again (an export starts over)"
					if *out == "-" {
						resume = "the output is incomplete: discard it and run the same command again (an export starts over)"
					}
					p.stopped(ctx, resume)
					return fmt.Errorf("export %s: %w", tc.desc(), err)
				}
				fmt.Fprintf(e.stderr, "exported %s from %s\n", backupStats(n), tc.desc())
				if skipped != nil {
					return skippedRecords(e, "export "+tc.desc(), skipped.Err)
				}
				return nil
			}
		},
	}
}

// backupStats gives "9 records and 3 history entries".
func backupStats(st backup.Stats) string {
	entries := "entries"
	if st.History == 1 {
		entries = "entry"
	}
	return fmt.Sprintf("%s and %d history %s", count(st.Records, "record"), st.History, entries)
}

// exportFile writes through write to a temporary file beside path, and
// renames it to path once complete: when write succeeds, or reports only
// records it skipped (a *backup.SkippedError, returned too).
func exportFile(ctx context.Context, path string, force bool, write func(io.Writer) (backup.Stats, error)) (n backup.Stats, err error) {
	var none backup.Stats
	if !force {
		if _, err := os.Lstat(path); err == nil {
			return none, fmt.Errorf("%s exists (use -force to replace it)", path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return none, err
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return none, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriter(f)
	n, werr := write(w)
	var skipped *backup.SkippedError
	if werr != nil && !errors.As(werr, &skipped) {
		return n, werr
	}
	if err = w.Flush(); err != nil {
		return n, err
	}
	if err = f.Sync(); err != nil {
		return n, err
	}
	if err = f.Close(); err != nil {
		return n, err
	}
	if err = ctx.Err(); err != nil {
		return n, err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return n, err
	}
	return n, werr
}

func importCommand() *command {
	return &command{
		name:    "import",
		args:    "[-i file] [-concurrency n] [-skip-history] [-progress n] [-store URL]",
		summary: "restore records and history exported by 'export' from a file or stdin (backup.Import)",
		help: `Stores every record of the backup into the store, still sealed (no key is
needed; the app opens them with the keys that sealed them). Versions are
assigned by the store. Any store can restore any other's backup: export from
dynamodb:, import into postgres://, sqlite: or redis://.

Before it writes anything, import checks that the store exists (a DynamoDB
table, a PostgreSQL schema or a SQLite file made by create-table), and reads the
whole input: an empty input, or any line that is not a record of the backup
format (a truncated or edited file), fails the import with every bad line
named, and nothing is written. A backup holding history entries needs
-history (a store that keeps history), or -skip-history to restore the
records without them.
Importing the same file again leaves the same contents, so an interrupted
import is resumed by running it again. Progress goes to stderr every -progress
records and history entries, and every -progress-interval.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			addHistoryFlag(fs, tc, "restore the backup's history entries")
			in := fs.String("i", "-", "input `file`; - for stdin")
			pf := addProgressFlags(fs, 10000)
			conc := fs.Int("concurrency", 16, "records written in parallel")
			skipHistory := fs.Bool("skip-history", false, "drop the backup's history entries (for a store without history)")
			return func(ctx context.Context) error {
				if *in == "" {
					return usagef("-i must name a file or -")
				}
				if *conc < 1 {
					return usagef("-concurrency must be at least 1")
				}
				if err := pf.check(); err != nil {
					return err
				}
				if err := tc.resolve(); err != nil {
					return err
				}
				if tc.url.Kind == storeurl.DynamoDB {
					client, err := tc.client(ctx)
					if err != nil {
						return err
					}
					if err := requireTable(ctx, client, tc.table); err != nil {
						return err
					}
				}
				raw, err := tc.rawStore(ctx) // a PostgreSQL schema or SQLite file must exist too
				if err != nil {
					return fmt.Errorf("%w; nothing was written", err)
				}
				r := e.stdin
				if *in != "-" {
					f, err := os.Open(*in)
					if err != nil {
						return err
					}
					defer f.Close()
					r = f // seekable: validated in place, not copied
				}
				p := pf.reporter(e.stderr, "import", "restored")
				opts := append(p.option(), backup.WithConcurrency(*conc))
				if *skipHistory {
					opts = append(opts, backup.SkipHistory())
				}
				n, err := backup.Import(ctx, raw, r, opts...)
				if errors.Is(err, installstore.ErrHistoryOff) && !tc.history {
					err = fmt.Errorf("%w (if the app keeps history, import with -history)", err)
				}
				if err != nil {
					if n.Lines() > 0 {
						p.stopped(ctx, "run the same import again to resume: it stores every line again and leaves the same contents")
					}
					return fmt.Errorf("import into %s: %w", tc.desc(), err)
				}
				fmt.Fprintf(e.stdout, "imported %s into %s\n", backupStats(n), tc.desc())
				return nil
			}
		},
	}
}

// requireTable fails, before anything is written, when the table does not
// exist.
func requireTable(ctx context.Context, client *dynamodb.Client, table string) error {
	_, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var missing *types.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		return fmt.Errorf("table %s does not exist (create it with 'installvault create-table'); nothing was written", table)
	case err != nil:
		return fmt.Errorf("table %s: %w", table, err)
	}
	return nil
}
