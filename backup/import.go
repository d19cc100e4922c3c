package backup

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/installvault/installvault/installstore"
)

// Import stores every record read from r into dst, and every history
// entry (see History in the package doc), and returns how many of each it
// stored.
//
// It first validates the whole input (a reader that cannot seek, such as
// stdin, is first copied to a temporary file, mode 0600, removed after):
// an empty input or any bad line fails with [installstore.ErrInvalid] and
// writes nothing. It refuses a dst holding an encryption layer
// ([installstore.ErrInvalid]), a dst that does not answer a read, and, when
// the backup holds history entries, a dst that keeps no history
// ([installstore.ErrInvalid], unless [SkipHistory]). Then user
// installations are stored in the order of the file, and each tenant's
// latest installation after all of them, so the restored tenant serves the
// same latest installation as the exported one (a user installation
// identical to its tenant's latest one is stored by that write alone);
// then the history entries (PutHistory), replacing the entries that the
// records' writes made on a target with history. Where the backup holds a
// team both standalone and as a workspace of an enterprise, the
// enterprise's records are stored first, so that the Grid migration of
// StoreInstallation does not remove the standalone record the source kept. Importing the same file twice leaves the same contents.
// Memory grows with the number of tenants (about 100 bytes each: a file
// offset and two digests), not with the size of the records.
func Import(ctx context.Context, dst installstore.Store, r io.Reader, opts ...Option) (Stats, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if dst == nil || r == nil {
		return Stats{}, fmt.Errorf("backup: import: %w: nil target or reader", installstore.ErrInvalid)
	}
	if full, ok := dst.(installstore.FullStore); ok && hasEncryption(full) {
		return Stats{}, fmt.Errorf("backup: import: %w: the target has an encryption layer (a crypto.Store), which would seal the backup's sealed values again; "+
			"restore to the backend below the encryption layer (the store crypto.NewStore wraps, or a residency router over the regions' backends), "+
			"and the app opens the records with the keys that sealed them", installstore.ErrInvalid)
	}
	rs, cleanup, err := seekable(r)
	if err != nil {
		return Stats{}, fmt.Errorf("backup: import: %w", err)
	}
	defer cleanup()

	base, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return Stats{}, fmt.Errorf("backup: import: %w", err)
	}
	plan, err := validate(rs)
	if err != nil {
		return Stats{}, err
	}
	if _, err := dst.FetchInstallation(ctx, plan.probe); err != nil && !errors.Is(err, installstore.ErrNotFound) {
		return Stats{}, fmt.Errorf("backup: import: the target store does not answer a read, nothing was written: %w", err)
	}
	restoreHistory := plan.history > 0 && !c.skipHistory
	if restoreHistory {
		if err := keepsHistory(ctx, dst, plan); err != nil {
			return Stats{}, err
		}
	}
	rewind := func() error {
		_, err := rs.Seek(base, io.SeekStart)
		return err
	}
	im := newImporter(ctx, dst, &c, Stats{})
	// A workspace of an enterprise, stored, supersedes its standalone
	// record (the Grid migration): where the backup holds both, the
	// enterprise's records go first, so the standalone ones survive as they
	// did in the source.
	passes := []func(installstore.Tenant) bool{func(installstore.Tenant) bool { return true }}
	if grid := plan.gridConflicts(); len(grid) > 0 {
		first := func(t installstore.Tenant) bool { return t.EnterpriseID != "" && grid[t.TeamID] }
		passes = []func(installstore.Tenant) bool{first, func(t installstore.Tenant) bool { return !first(t) }}
	}
	for _, in := range passes {
		if err := im.records(rs, rewind, base, plan, in); err != nil {
			return im.st, err
		}
		im = newImporter(ctx, dst, &c, im.st)
	}
	if !restoreHistory {
		return im.st, nil
	}
	// Every record is in; the entries its writes made (with the tenant's
	// current bot and tokens) are replaced by the backup's.
	h := dst.(installstore.History) // checked by keepsHistory
	if err := rewind(); err != nil {
		return im.st, fmt.Errorf("backup: import: %w", err)
	}
	if err := scanLines(rs, func(l line) error {
		if l.kind != kindHistory {
			return nil
		}
		what := fmt.Sprintf("history entry of tenant %s user %s installed at %s", l.q.Tenant(), dash(l.q.UserID), l.inst.InstalledAt.Format(time.RFC3339Nano))
		return im.do(what, false, func(ctx context.Context) error { return h.PutHistory(ctx, l.inst) })
	}); err != nil {
		return im.wait(err)
	}
	return im.wait(nil)
}

// records stores the records of the tenants for which in is true: user
// records in the order of the input, then, once they are all in, each
// tenant's latest one. It waits for every write.
func (im *importer) records(rs io.ReadSeeker, rewind func() error, base int64, plan *plan, in func(installstore.Tenant) bool) error {
	if err := rewind(); err != nil {
		return fmt.Errorf("backup: import: %w", err)
	}
	if err := scanLines(rs, func(l line) error {
		if l.kind != kindRecord || l.q.UserID == "" || !in(l.q.Tenant()) {
			return nil
		}
		k := keyOf(l.q.Tenant())
		if lt, ok := plan.latest[k]; ok && lt.sum == l.sum {
			lt.covers++ // the tenant's latest write stores this user's record as it is
			plan.latest[k] = lt
			return nil
		}
		return im.store(l.inst, fmt.Sprintf("tenant %s user %s", l.q.Tenant(), l.q.UserID), 1)
	}); err != nil {
		_, err = im.wait(err)
		return err
	}
	// Every user record is in before any tenant's latest one.
	if _, err := im.wait(nil); err != nil {
		return err
	}
	latest := newImporter(im.parent, im.dst, im.c, im.st)
	var data []byte
	for _, k := range plan.order {
		lt := plan.latest[k]
		if _, err := rs.Seek(base+lt.off, io.SeekStart); err != nil {
			_, err = latest.wait(fmt.Errorf("backup: import: %w", err))
			im.st = latest.st
			return err
		}
		if cap(data) < int(lt.n) {
			data = make([]byte, lt.n)
		}
		data = data[:lt.n]
		var l line
		_, err := io.ReadFull(rs, data)
		if err == nil {
			l, err = decode(data) // validated above: an error means the input changed under us
		}
		switch {
		case err != nil:
			err = fmt.Errorf("backup: import the latest installation at offset %d: %w", lt.off, err)
		case !in(l.q.Tenant()):
			continue
		default:
			err = latest.store(l.inst, "latest installation of tenant "+l.q.Tenant().String(), 1+int(lt.covers))
		}
		if err != nil {
			_, err = latest.wait(err)
			im.st = latest.st
			return err
		}
	}
	_, err := latest.wait(nil)
	im.st = latest.st
	return err
}

// gridConflicts returns the teams that the backup holds both as a
// standalone workspace and as a workspace of an enterprise.
func (p *plan) gridConflicts() map[string]bool {
	out := map[string]bool{}
	for team := range p.gridTeams {
		if _, ok := p.latest[keyOf(installstore.Tenant{TeamID: team})]; ok {
			out[team] = true
		}
	}
	return out
}

// keepsHistory fails, before anything is written, when dst keeps no
// history for the backup's entries.
func keepsHistory(ctx context.Context, dst installstore.Store, p *plan) error {
	refuse := func(why error) error {
		return fmt.Errorf("backup: import: %w: the backup holds %d history %s and %w; "+
			"build the target with its WithHistory option, or drop the entries (SkipHistory; the CLI's import -skip-history); nothing was written",
			installstore.ErrInvalid, p.history, pluralEntry(p.history), why)
	}
	h, ok := dst.(installstore.History)
	if !ok {
		return refuse(fmt.Errorf("the target (%T) keeps no installation history", dst))
	}
	q := p.probe
	q.UserID = ""
	err := h.ListHistory(ctx, q, func(*installstore.Installation) error { return errProbed })
	switch {
	case err == nil, errors.Is(err, errProbed), errors.Is(err, installstore.ErrCorrupt):
		return nil
	case errors.Is(err, installstore.ErrHistoryOff):
		return refuse(fmt.Errorf("the target keeps no installation history (%w)", err))
	default:
		return fmt.Errorf("backup: import: the target store does not answer a history read, nothing was written: %w", err)
	}
}

// errProbed stops the probe of keepsHistory at the first entry.
var errProbed = errors.New("probed")

// importer stores records with up to c.concurrency writes in flight.
type importer struct {
	g      *errgroup.Group
	parent context.Context // what ctx derives from: for the next importer
	ctx    context.Context
	dst    installstore.Store
	c      *config
	mu     sync.Mutex
	st     Stats
}

func newImporter(ctx context.Context, dst installstore.Store, c *config, st Stats) *importer {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(c.concurrency, 1))
	return &importer{g: g, parent: ctx, ctx: gctx, dst: dst, c: c, st: st}
}

// store starts storing inst, which restores records (itself, and user
// records identical to it).
func (im *importer) store(inst *installstore.Installation, what string, records int) error {
	return im.do(what, true, func(ctx context.Context) error {
		if err := im.dst.StoreInstallation(ctx, inst); err != nil {
			return err
		}
		im.mu.Lock()
		im.st.Records += records - 1 // do counts one
		im.mu.Unlock()
		return nil
	})
}

// do starts write, which stores one record (or else one history entry);
// it waits while the writes in flight are at the limit, and returns the
// error of an earlier write, if any.
func (im *importer) do(what string, record bool, write func(context.Context) error) error {
	if err := im.ctx.Err(); err != nil {
		return err
	}
	im.g.Go(func() error {
		err := write(im.ctx)
		im.mu.Lock()
		defer im.mu.Unlock()
		if err != nil {
			return fmt.Errorf("backup: import %s (%s stored; importing the file again resumes): %w", what, im.st, err)
		}
		if record {
			im.st.Records++
		} else {
			im.st.History++
		}
		if im.c.progress != nil {
			im.c.progress(im.st.Lines())
		}
		return nil
	})
	return nil
}

// wait waits for the writes in flight and returns the counts stored and
// the first error: a write's, or else err.
func (im *importer) wait(err error) (Stats, error) {
	if werr := im.g.Wait(); werr != nil {
		return im.st, werr
	}
	return im.st, err
}

// plan is what validation learns: where each tenant's latest record is,
// in the order tenants first appear, how many history entries there are,
// and a query to probe the target with.
//
// It holds no pointer and about 100 bytes per tenant: tenants are keyed by
// a 128-bit digest of their key, so that memory does not hold their IDs.
type plan struct {
	order     []tenantKey
	latest    map[tenantKey]latest
	gridTeams map[string]bool // teams of the workspaces of an enterprise
	history   int
	probe     installstore.Query
}

// tenantKey is the first 128 bits of the SHA-256 of a tenant's key.
type tenantKey [16]byte

func keyOf(t installstore.Tenant) tenantKey {
	sum := sha256.Sum256([]byte(t.Key()))
	return tenantKey(sum[:16])
}

// latest is a tenant's latest record in the input.
type latest struct {
	off    int64    // where its line is
	n      int32    // its line's length (at most maxLine)
	covers int32    // user records identical to it, stored by its write
	sum    [16]byte // digest of its installing user and installation
}

// validate reads the whole input once and fails, naming every bad line (up
// to maxNamed), if any line is not a valid record or history entry, or if
// there is no record.
func validate(r io.Reader) (*plan, error) {
	p := &plan{latest: make(map[tenantKey]latest), gridTeams: make(map[string]bool)}
	var bad []string
	badCount, records := 0, 0
	err := scanLinesRaw(r, func(n int, off int64, data []byte) {
		l, err := decode(data)
		if err != nil {
			badCount++
			if len(bad) < maxNamed {
				bad = append(bad, fmt.Sprintf("line %d: %v", n, err))
			}
			return
		}
		if l.kind == kindHistory {
			p.history++
			return
		}
		if records == 0 {
			p.probe = l.q
		}
		records++
		if t := l.q.Tenant(); t.EnterpriseID != "" && t.TeamID != "" {
			p.gridTeams[t.TeamID] = true
		}
		if l.q.UserID == "" {
			k := keyOf(l.q.Tenant())
			if _, seen := p.latest[k]; !seen {
				p.order = append(p.order, k)
			}
			p.latest[k] = latest{off: off, n: int32(len(data)), sum: l.sum}
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
			installstore.ErrInvalid, badCount, plural(badCount, "line"), badCount+records+p.history, strings.Join(bad, "; "), more)
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
func scanLines(r io.Reader, fn func(l line) error) error {
	var ferr error
	err := scanLinesRaw(r, func(n int, _ int64, data []byte) {
		if ferr != nil {
			return
		}
		l, err := decode(data)
		if err != nil {
			ferr = fmt.Errorf("backup: import line %d (the input changed since it was validated): %w", n, err)
			return
		}
		ferr = fn(l)
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

// line is one decoded line of a backup.
type line struct {
	kind string // kindRecord or kindHistory
	q    installstore.Query
	inst *installstore.Installation
	sum  [16]byte // digest of the installing user and the installation, as Export writes it
}

// decode parses one line and checks that it is consistent: a known format
// version and kind, a valid query, and a valid installation of that
// query's tenant and user (a history entry also needs its install time).
func decode(data []byte) (line, error) {
	var rec record
	if err := json.Unmarshal(data, &rec); err != nil {
		return line{}, fmt.Errorf("malformed record: %w", err)
	}
	switch {
	case rec.V == 1 && rec.Kind == "":
		rec.Kind = kindRecord
	case rec.V == 1:
		return line{}, fmt.Errorf("format version 1 has no kind %q", rec.Kind)
	case rec.V != FormatVersion:
		return line{}, fmt.Errorf("record format version %d, want 1 or %d (written by a newer installvault?)", rec.V, FormatVersion)
	case rec.Kind != kindRecord && rec.Kind != kindHistory:
		return line{}, fmt.Errorf("unknown kind %q, want %q or %q (written by a newer installvault?)", rec.Kind, kindRecord, kindHistory)
	}
	if err := rec.Query.Validate(); err != nil {
		return line{}, err
	}
	inst := fromWire(rec.Installation)
	if err := inst.Validate(); err != nil {
		return line{}, err
	}
	if inst.Tenant() != rec.Query.Tenant() || (rec.Query.UserID != "" && inst.User.ID != rec.Query.UserID) {
		return line{}, fmt.Errorf("%s for tenant %s user %q holds an installation of tenant %s user %q",
			rec.Kind, rec.Query.Tenant(), rec.Query.UserID, inst.Tenant(), inst.User.ID)
	}
	if rec.Kind == kindHistory {
		if rec.Query.UserID != inst.User.ID {
			return line{}, fmt.Errorf("history entry for tenant %s user %q holds an installation of user %q", rec.Query.Tenant(), rec.Query.UserID, inst.User.ID)
		}
		if inst.InstalledAt.IsZero() {
			return line{}, fmt.Errorf("%w: history entry of tenant %s user %q has no installed_at", installstore.ErrInvalid, rec.Query.Tenant(), rec.Query.UserID)
		}
	}
	canon, err := json.Marshal(rec.Installation)
	if err != nil {
		return line{}, fmt.Errorf("malformed record: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(inst.User.ID))
	h.Write([]byte{0})
	h.Write(canon)
	return line{kind: rec.Kind, q: rec.Query, inst: inst, sum: [16]byte(h.Sum(nil))}, nil
}

// dash returns s, or "-" when it is empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
