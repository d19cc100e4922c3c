package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/installvault/installvault/backup"
)

func exportCommand() *command {
	return &command{
		name:    "export",
		args:    "[-o file] [-force] [-table name]",
		summary: "write every record, still sealed, as JSON lines to a file or stdout (backup.Export)",
		help: `Reads the table below the encryption layer: the backup holds sealed values
only, no key is needed to make it, and restoring it needs the same keys (keep
the old keys until no backup sealed under them is needed). A record holding a
plaintext secret makes export fail. With -o, the file is written beside its
final name and renamed when complete (mode 0600); an existing file is kept
unless -force. Counts go to stderr.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			out := fs.String("o", "-", "output `file`; - for stdout")
			force := fs.Bool("force", false, "replace an existing output file")
			every := fs.Int("progress", 1000, "print progress to stderr every `n` records (0: never)")
			return func(ctx context.Context) error {
				if *out == "" {
					return usagef("-o must name a file or -")
				}
				raw, err := tc.rawStore(ctx)
				if err != nil {
					return err
				}
				opts := progressOption(e, "export", *every)
				var n int
				if *out == "-" {
					w := bufio.NewWriter(e.stdout)
					n, err = backup.Export(ctx, raw, w, opts...)
					if err == nil {
						err = w.Flush()
					}
				} else {
					n, err = exportFile(ctx, *out, *force, func(w io.Writer) (int, error) {
						return backup.Export(ctx, raw, w, opts...)
					})
				}
				if err != nil {
					return fmt.Errorf("export table %s: %w", tc.table, err)
				}
				fmt.Fprintf(e.stderr, "exported %d records from table %s\n", n, tc.table)
				return nil
			}
		},
	}
}

func progressOption(e *env, label string, every int) []backup.Option {
	if every <= 0 {
		return nil
	}
	next := every
	return []backup.Option{backup.WithProgress(func(n int) {
		// Import reports records read, and may report the same count again
		// while it stores the tenants' latest installations: print each
		// multiple of every once.
		if n >= next {
			fmt.Fprintf(e.stderr, "%s: %d records\n", label, n)
			next = (n/every + 1) * every
		}
	})}
}

// exportFile writes through write to a temporary file beside path, and
// renames it to path once complete.
func exportFile(ctx context.Context, path string, force bool, write func(io.Writer) (int, error)) (n int, err error) {
	if !force {
		if _, err := os.Lstat(path); err == nil {
			return 0, fmt.Errorf("%s exists (use -force to replace it)", path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriter(f)
	if n, err = write(w); err != nil {
		return 0, err
	}
	if err = w.Flush(); err != nil {
		return 0, err
	}
	if err = f.Sync(); err != nil {
		return 0, err
	}
	if err = f.Close(); err != nil {
		return 0, err
	}
	if err = ctx.Err(); err != nil {
		return 0, err
	}
	return n, os.Rename(f.Name(), path)
}

func importCommand() *command {
	return &command{
		name:    "import",
		args:    "[-i file] [-table name]",
		summary: "restore records exported by 'export' from a file or stdin (backup.Import)",
		help: `Stores every record of the backup into the table, still sealed (no key is
needed; the app opens them with the keys that sealed them). Importing the same
file again leaves the same contents. Versions are assigned by the table.`,
		setup: func(fs *flag.FlagSet, e *env) func(context.Context) error {
			tc := addTableFlags(fs, e)
			in := fs.String("i", "-", "input `file`; - for stdin")
			every := fs.Int("progress", 1000, "print progress to stderr every `n` records (0: never)")
			return func(ctx context.Context) error {
				if *in == "" {
					return usagef("-i must name a file or -")
				}
				raw, err := tc.rawStore(ctx)
				if err != nil {
					return err
				}
				r := e.stdin
				if *in != "-" {
					f, err := os.Open(*in)
					if err != nil {
						return err
					}
					defer f.Close()
					r = f
				}
				n, err := backup.Import(ctx, raw, bufio.NewReader(r), progressOption(e, "import", *every)...)
				if err != nil {
					return fmt.Errorf("import into table %s (%d records read): %w", tc.table, n, err)
				}
				fmt.Fprintf(e.stdout, "imported %d records into table %s\n", n, tc.table)
				return nil
			}
		},
	}
}
