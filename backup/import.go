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

	"github.com/installvault/installvault/installstore"
)

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
