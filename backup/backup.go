// Package backup exports installations as JSON lines and imports them back,
// losslessly, idempotently and with bounded memory.
//
// # Where it goes
//
// The layers stack in one order (README's diagram):
//
//	oauth.Handler → rotation.Refresher → audit / metrics → crypto → residency or backend
//
// A backup holds sealed records only, so it is made and restored below the
// encryption layer:
//
//   - [Export] takes any stack and reads below its encryption layers (found
//     with [installstore.Walk]): from the store each crypto.Store wraps, and
//     from every region of a residency router, sealed or not. Records leave
//     sealed: a backup file holds no plaintext token, and restoring it needs
//     the same keys. Export refuses a record holding a plaintext secret
//     unless [AllowPlaintext] is given.
//   - [Import] refuses a target that holds an encryption layer
//     ([installstore.ErrInvalid]): it would seal the sealed values again.
//     Restore to the backend below it (or to a residency router over the
//     regions' backends).
//
// # Nothing lost
//
// Export goes past a record the backend cannot decode
// ([installstore.ErrCorrupt]): it writes every other record, and returns a
// [*SkippedError] counting and naming the records that are not in the
// backup. Import validates the whole input before its first write: an empty
// input, or any line that is not a valid record, fails the import with
// every bad line named and nothing written; it also reads the target once
// first, so a missing table fails before anything is written. Importing a
// file again leaves the same contents, so an interrupted import is resumed
// by running it again.
//
// Each line is one record: the [installstore.Query] that fetches it and the
// installation, with secrets as their (sealed) strings. Versions are not
// restored: the target store assigns its own.
package backup

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/crypto"
	"github.com/installvault/installvault/installstore"
)

// FormatVersion is the version written in every record.
const FormatVersion = 1

// maxLine bounds one record's size on import.
const maxLine = 1 << 20

// maxNamed bounds how many bad lines an import error names one by one.
const maxNamed = 20

type config struct {
	plaintext   bool
	progress    func(n int)
	concurrency int
}

// Option configures Export and Import.
type Option func(*config)

// AllowPlaintext lets Export write records whose secrets are not sealed
// (a backend used without the encryption layer). The file then holds live
// tokens: protect it accordingly.
func AllowPlaintext() Option { return func(c *config) { c.plaintext = true } }

// WithProgress calls fn after every record with the count so far: records
// written by Export, records stored by Import. Calls never overlap.
func WithProgress(fn func(n int)) Option { return func(c *config) { c.progress = fn } }

// WithConcurrency lets Import have up to n writes in flight (default 1).
// Records of different users and tenants are independent; each tenant's
// latest installation is still stored after every user installation.
func WithConcurrency(n int) Option { return func(c *config) { c.concurrency = n } }

// ErrPlaintext is returned by Export for a record holding an unsealed secret.
var ErrPlaintext = errors.New("backup: plaintext secret")

// SkippedError is returned by [Export] when it wrote every record but
// Records records the store could not read (corrupt, or unreadable): those
// are not in the backup. Err is the store's report, naming each of them;
// SkippedError matches its classes ([installstore.ErrCorrupt], ...).
type SkippedError struct {
	Records int
	Err     error
}

func (e *SkippedError) Error() string {
	return fmt.Sprintf("backup: export: %d %s skipped, not in the backup: %v", e.Records, plural(e.Records, "record"), e.Err)
}

// Unwrap returns the store's report.
func (e *SkippedError) Unwrap() error { return e.Err }

// Export writes every record of src to w, one JSON line each, and returns
// how many it wrote. When src is a stack with encryption layers, Export
// reads the stores below them, so that records stay sealed. A record src
// cannot decode does not stop it: see [SkippedError]. Memory does not grow
// with the number of records.
func Export(ctx context.Context, src installstore.Lister, w io.Writer, opts ...Option) (int, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if src == nil || w == nil {
		return 0, fmt.Errorf("backup: export: %w: nil source or writer", installstore.ErrInvalid)
	}
	sources := []installstore.Lister{src}
	if full, ok := src.(installstore.FullStore); ok {
		sources = sealedSources(full)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	var listErrs []error
	for _, l := range sources {
		var fnErr error
		err := l.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
			fnErr = exportOne(enc, &c, q, inst)
			if fnErr == nil {
				n++
				if c.progress != nil {
					c.progress(n)
				}
			}
			return fnErr
		})
		if fnErr != nil {
			return n, fmt.Errorf("backup: export: %w", fnErr)
		}
		if err != nil {
			listErrs = append(listErrs, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("backup: export: %w", err)
	}
	if len(listErrs) == 0 {
		return n, nil
	}
	err := errors.Join(listErrs...)
	if skipped, complete := countSkipped(err); complete {
		return n, &SkippedError{Records: skipped, Err: err}
	}
	return n, fmt.Errorf("backup: export: the listing failed after %d %s: %w", n, plural(n, "record"), err)
}

func exportOne(enc *json.Encoder, c *config, q installstore.Query, inst *installstore.Installation) error {
	if !c.plaintext {
		if err := inst.Secrets(func(field string, s *installstore.Secret) error {
			if !s.IsSealed() {
				return fmt.Errorf("%w: tenant %s user %q field %s (export the store below the encryption layer, or pass AllowPlaintext)", ErrPlaintext, inst.Tenant(), q.UserID, field)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return enc.Encode(record{V: FormatVersion, Query: q, Installation: toWire(inst)})
}

// sealedSources returns what Export lists of the stack s: the store below
// each encryption layer, every branch of a router, and s itself when no
// encryption layer is below it.
func sealedSources(s installstore.FullStore) []installstore.Lister {
	if cs, ok := s.(*crypto.Store); ok {
		return []installstore.Lister{cs.Inner}
	}
	u, ok := s.(installstore.Unwrapper)
	if !ok || !hasEncryption(s) {
		return []installstore.Lister{s}
	}
	var out []installstore.Lister
	for _, inner := range u.Unwrap() {
		out = append(out, sealedSources(inner)...)
	}
	return out
}

// hasEncryption reports whether the stack s holds an encryption layer.
func hasEncryption(s installstore.FullStore) bool {
	found := false
	installstore.Walk(s, func(x installstore.FullStore) bool {
		if _, ok := x.(*crypto.Store); ok {
			found = true
		}
		return !found
	})
	return found
}

// Import stores every record read from r into dst and returns how many it
// stored.
//
// It first validates the whole input (a reader that cannot seek, such as
// stdin, is first copied to a temporary file, mode 0600, removed after):
// an empty input or any bad line fails with [installstore.ErrInvalid] and
// writes nothing. It refuses a dst holding an encryption layer
// ([installstore.ErrInvalid]) and a dst that does not answer a read. Then
// user installations are stored in the order of the file, and each
// tenant's latest installation after all of them, so the restored tenant
// serves the same latest installation as the exported one. Importing the
// same file twice leaves the same contents. Memory grows with the number of
// tenants (a file offset each), not with the size of the records.
func Import(ctx context.Context, dst installstore.Store, r io.Reader, opts ...Option) (int, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if dst == nil || r == nil {
		return 0, fmt.Errorf("backup: import: %w: nil target or reader", installstore.ErrInvalid)
	}
	if full, ok := dst.(installstore.FullStore); ok && hasEncryption(full) {
		return 0, fmt.Errorf("backup: import: %w: the target has an encryption layer (a crypto.Store), which would seal the backup's sealed values again; "+
			"restore to the backend below the encryption layer (the store crypto.NewStore wraps, or a residency router over the regions' backends), "+
			"and the app opens the records with the keys that sealed them", installstore.ErrInvalid)
	}
	rs, cleanup, err := seekable(r)
	if err != nil {
		return 0, fmt.Errorf("backup: import: %w", err)
	}
	defer cleanup()

	base, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, fmt.Errorf("backup: import: %w", err)
	}
	plan, err := validate(rs)
	if err != nil {
		return 0, err
	}
	if _, err := dst.FetchInstallation(ctx, plan.probe); err != nil && !errors.Is(err, installstore.ErrNotFound) {
		return 0, fmt.Errorf("backup: import: the target store does not answer a read, nothing was written: %w", err)
	}
	im := newImporter(ctx, dst, &c, 0)
	if _, err := rs.Seek(base, io.SeekStart); err != nil {
		return 0, fmt.Errorf("backup: import: %w", err)
	}
	if err := scanLines(rs, func(_ int, _ int64, inst *installstore.Installation, q installstore.Query) error {
		if q.UserID == "" {
			return nil
		}
		return im.store(inst, fmt.Sprintf("tenant %s user %s", q.Tenant(), q.UserID))
	}); err != nil {
		return im.wait(err)
	}
	// Every user record is in before any tenant's latest one.
	if _, err := im.wait(nil); err != nil {
		return im.n, err
	}
	im = newImporter(ctx, dst, &c, im.n)
	var line []byte
	for _, t := range plan.order {
		sp := plan.latest[t]
		if _, err := rs.Seek(base+sp.off, io.SeekStart); err != nil {
			return im.n, fmt.Errorf("backup: import: %w", err)
		}
		if cap(line) < sp.n {
			line = make([]byte, sp.n)
		}
		line = line[:sp.n]
		if _, err := io.ReadFull(rs, line); err != nil {
			return im.wait(fmt.Errorf("backup: import latest installation of tenant %s: %w", t, err))
		}
		inst, _, err := decode(line)
		if err != nil { // validated above: the input changed under us
			return im.wait(fmt.Errorf("backup: import latest installation of tenant %s: %w", t, err))
		}
		if err := im.store(inst, "latest installation of tenant "+t.String()); err != nil {
			return im.wait(err)
		}
	}
	return im.wait(nil)
}

// importer stores records with up to c.concurrency writes in flight.
type importer struct {
	g   *errgroup.Group
	ctx context.Context
	dst installstore.Store
	c   *config
	mu  sync.Mutex
	n   int
}

func newImporter(ctx context.Context, dst installstore.Store, c *config, stored int) *importer {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(c.concurrency, 1))
	return &importer{g: g, ctx: gctx, dst: dst, c: c, n: stored}
}

// store starts storing inst; it waits while the writes in flight are at the
// limit, and returns the error of an earlier write, if any.
func (im *importer) store(inst *installstore.Installation, what string) error {
	if err := im.ctx.Err(); err != nil {
		return err
	}
	im.g.Go(func() error {
		if err := im.dst.StoreInstallation(im.ctx, inst); err != nil {
			im.mu.Lock()
			defer im.mu.Unlock()
			return fmt.Errorf("backup: import %s (%d %s stored; importing the file again resumes): %w", what, im.n, plural(im.n, "record"), err)
		}
		im.mu.Lock()
		defer im.mu.Unlock()
		im.n++
		if im.c.progress != nil {
			im.c.progress(im.n)
		}
		return nil
	})
	return nil
}

// wait waits for the writes in flight and returns the count stored and
// the first error: a write's, or else err.
func (im *importer) wait(err error) (int, error) {
	if werr := im.g.Wait(); werr != nil {
		return im.n, werr
	}
	return im.n, err
}

// plan is what validation learns: where each tenant's latest record is,
// in the order tenants first appear, and a query to probe the target with.
type plan struct {
	order  []installstore.Tenant
	latest map[installstore.Tenant]span
	probe  installstore.Query
}

// span is where a line is in the input.
type span struct {
	off int64
	n   int
}

// validate reads the whole input once and fails, naming every bad line (up
// to maxNamed), if any line is not a valid record, or if there is none.
func validate(r io.Reader) (*plan, error) {
	p := &plan{latest: make(map[installstore.Tenant]span)}
	var bad []string
	badCount, records := 0, 0
	err := scanLinesRaw(r, func(line int, off int64, data []byte) {
		_, q, err := decode(data)
		if err != nil {
			badCount++
			if len(bad) < maxNamed {
				bad = append(bad, fmt.Sprintf("line %d: %v", line, err))
			}
			return
		}
		if records == 0 {
			p.probe = q
		}
		records++
		if q.UserID == "" {
			if _, seen := p.latest[q.Tenant()]; !seen {
				p.order = append(p.order, q.Tenant())
			}
			p.latest[q.Tenant()] = span{off: off, n: len(data)}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("backup: import: nothing written: %w", err)
	}
	if badCount > 0 {
		more := ""
		if badCount > len(bad) {
			more = fmt.Sprintf("; and %d more", badCount-len(bad))
		}
		return nil, fmt.Errorf("backup: import: %w: %d bad %s of %d, nothing written: %s%s",
			installstore.ErrInvalid, badCount, plural(badCount, "line"), badCount+records, strings.Join(bad, "; "), more)
	}
	if records == 0 {
		return nil, fmt.Errorf("backup: import: %w: no records in the input (an empty file or stdin?), nothing written", installstore.ErrInvalid)
	}
	return p, nil
}

// scanLinesRaw calls fn with every non-empty line (without its line
// break), its 1-based number and its offset from where r was.
func scanLinesRaw(r io.Reader, fn func(line int, off int64, data []byte)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	for line := 1; ; line++ {
		data, err := readLine(br)
		start := off
		off += int64(len(data))
		if len(trimLine(data)) > 0 {
			fn(line, start, trimLine(data))
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}

// scanLines decodes every non-empty line of a validated input.
func scanLines(r io.Reader, fn func(line int, off int64, inst *installstore.Installation, q installstore.Query) error) error {
	var ferr error
	err := scanLinesRaw(r, func(line int, off int64, data []byte) {
		if ferr != nil {
			return
		}
		inst, q, err := decode(data)
		if err != nil {
			ferr = fmt.Errorf("backup: import line %d (the input changed since it was validated): %w", line, err)
			return
		}
		ferr = fn(line, off, inst, q)
	})
	if ferr != nil {
		return ferr
	}
	if err != nil {
		return fmt.Errorf("backup: import: %w", err)
	}
	return nil
}

// errLongLine is returned for a line longer than maxLine.
var errLongLine = fmt.Errorf("%w: line longer than %d bytes", installstore.ErrInvalid, maxLine)

// readLine returns the next line with its '\n', refusing one over maxLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxLine {
			return nil, errLongLine
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return buf, err
	}
}

func trimLine(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// seekable returns r as an io.ReadSeeker, copying it to a temporary file
// when it cannot seek.
func seekable(r io.Reader) (io.ReadSeeker, func(), error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		if _, err := rs.Seek(0, io.SeekCurrent); err == nil { // a pipe says it can, and cannot
			return rs, func() {}, nil
		}
	}
	f, err := os.CreateTemp("", "installvault-import-*.jsonl") // mode 0600
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	if _, err := io.Copy(f, r); err != nil {
		cleanup()
		return nil, nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, nil, err
	}
	return f, cleanup, nil
}

// decode parses one line and checks that the record is consistent: a known
// format version, a valid query, and an installation of that query's tenant
// and user.
func decode(line []byte) (*installstore.Installation, installstore.Query, error) {
	var rec record
	if err := json.Unmarshal(line, &rec); err != nil {
		return nil, installstore.Query{}, fmt.Errorf("malformed record: %w", err)
	}
	if rec.V != FormatVersion {
		return nil, installstore.Query{}, fmt.Errorf("record format version %d, want %d", rec.V, FormatVersion)
	}
	if err := rec.Query.Validate(); err != nil {
		return nil, installstore.Query{}, err
	}
	inst := fromWire(rec.Installation)
	if err := inst.Validate(); err != nil {
		return nil, installstore.Query{}, err
	}
	if inst.Tenant() != rec.Query.Tenant() || (rec.Query.UserID != "" && inst.User.ID != rec.Query.UserID) {
		return nil, installstore.Query{}, fmt.Errorf("record for tenant %s user %q holds an installation of tenant %s user %q",
			rec.Query.Tenant(), rec.Query.UserID, inst.Tenant(), inst.User.ID)
	}
	return inst, rec.Query, nil
}

// plural returns word, with an "s" unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
