// Package audit is the layer that leaves one structured log/slog record per
// read that hands out secrets: which tenant, which secrets (field names,
// never values), who asked (the caller label of [installstore.WithCaller]),
// the outcome, and when. [Store] implements the whole
// [installstore.FullStore] contract over the store below it; writes,
// deletes, nonces and leases pass through unchanged.
//
// # Where it goes
//
// The layers stack in one order (README's diagram):
//
//	oauth.Handler → rotation.Refresher → audit / metrics → crypto → residency or backend
//
// (residency may also sit above per-region crypto stores). Put audit above
// the encryption layer: there it sees what the application is handed, so a
// failed decryption is recorded as a failure. Below it, audit would see
// sealed values only: it would still record every read, and never a value,
// but a read that the encryption layer then fails would be recorded "ok".
// A layer cannot see what is stacked above it, so that order is not refused
// at construction; audit logs one warning the first time it is handed a
// sealed value.
//
// # Records
//
// Records are emitted at Info level with the message "installvault token
// read" and these attributes:
//
//	op           "fetch" or "list"
//	enterprise_id, team_id, user_id, is_enterprise_install   the query
//	tenant       the tenant whose record was returned, as [installstore.Tenant.String]
//	             prints it ("T1", "E1/T1", "E1 (org-wide)"); it differs from the query
//	             when a workspace was served by its organization's org-wide install
//	secrets      the secret fields returned, e.g. [bot.token user.token]
//	caller       installstore.CallerFrom(ctx), "unknown" when unset
//	outcome      "ok", "not_found", "unavailable" (transient: installstore.ErrUnavailable) or "error"
//	error        the error message (errors never carry secrets)
//
// A fetch that returns no secret (a not-found, or a record without tokens)
// is recorded too: an audit trail of attempts is as useful as one of reads.
// A listing leaves one record per record it hands out and, when it ends
// with an error (records skipped as corrupt or unreadable, or a failure of
// the store), one more record with op "list", no query, and that error,
// which names the records skipped.
//
// Records count store reads, not requests: an Authorize that refreshes a
// token reads the store more than once (before and after the refresh) and
// leaves one record per read.
package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/installvault/installvault/installstore"
)

// Message is the log message of every audit record.
const Message = "installvault token read"

// Store is the audit layer. Methods that hand out no secret are those of the
// embedded [installstore.Passthrough].
type Store struct {
	installstore.Passthrough
	logger     *slog.Logger
	now        func() time.Time
	warnSealed sync.Once
}

var (
	_ installstore.FullStore = (*Store)(nil)
	_ installstore.Unwrapper = (*Store)(nil)
)

// Option configures [NewStore].
type Option func(*Store)

// WithClock sets the clock that timestamps records (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// NewStore returns inner wrapped so that reads are audited to logger. A nil
// inner store or logger is refused with an error wrapping
// [installstore.ErrInvalid].
func NewStore(inner installstore.FullStore, logger *slog.Logger, opts ...Option) (*Store, error) {
	if inner == nil {
		return nil, fmt.Errorf("audit: new store: %w: nil inner store", installstore.ErrInvalid)
	}
	if logger == nil {
		return nil, fmt.Errorf("audit: new store: %w: nil logger (an audit layer that logs nowhere is a mistake)", installstore.ErrInvalid)
	}
	s := &Store{Passthrough: installstore.Passthrough{Inner: inner}, logger: logger, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.now == nil {
		return nil, fmt.Errorf("audit: new store: %w: WithClock(nil)", installstore.ErrInvalid)
	}
	return s, nil
}

// Unwrap implements [installstore.Unwrapper]: the store below.
func (s *Store) Unwrap() []installstore.FullStore { return []installstore.FullStore{s.Inner} }

// FetchInstallation implements [installstore.Store] and records the read.
func (s *Store) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	inst, err := s.Inner.FetchInstallation(ctx, q)
	s.record(ctx, "fetch", q, inst, err)
	return inst, err
}

// ListInstallations implements [installstore.Lister] and records every
// record handed to fn, and the listing's error if it ends with one.
func (s *Store) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	var fnErr error
	err := s.Inner.ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		s.record(ctx, "list", q, inst, nil)
		fnErr = fn(q, inst)
		return fnErr
	})
	if err != nil && fnErr == nil { // fn's own error is the caller's to report
		s.record(ctx, "list", installstore.Query{}, nil, err)
	}
	return err
}

// ListHistory implements [installstore.History] and records every entry
// handed to fn (op "history"), and the listing's error if it ends with one:
// history entries hold tokens too.
func (s *Store) ListHistory(ctx context.Context, q installstore.Query, fn func(*installstore.Installation) error) error {
	var fnErr error
	err := s.Inner.ListHistory(ctx, q, func(inst *installstore.Installation) error {
		s.record(ctx, "history", inst.Query(), inst, nil)
		fnErr = fn(inst)
		return fnErr
	})
	if err != nil && fnErr == nil {
		s.record(ctx, "history", q, nil, err)
	}
	return err
}

func (s *Store) record(ctx context.Context, op string, q installstore.Query, inst *installstore.Installation, err error) {
	caller := installstore.CallerFrom(ctx)
	if caller == "" {
		caller = "unknown"
	}
	var fields []string
	tenant := ""
	sealed := false
	if inst != nil {
		tenant = inst.Tenant().String()
		_ = inst.Secrets(func(field string, sec *installstore.Secret) error {
			fields = append(fields, field)
			sealed = sealed || sec.IsSealed()
			return nil
		})
	}
	outcome := "ok"
	switch {
	case errors.Is(err, installstore.ErrNotFound):
		outcome = "not_found"
	case errors.Is(err, installstore.ErrUnavailable):
		outcome = "unavailable"
	case err != nil:
		outcome = "error"
	}
	attrs := []slog.Attr{
		slog.Time("at", s.now()),
		slog.String("op", op),
		slog.String("enterprise_id", q.EnterpriseID),
		slog.String("team_id", q.TeamID),
		slog.String("user_id", q.UserID),
		slog.Bool("is_enterprise_install", q.IsEnterpriseInstall),
		slog.String("tenant", tenant),
		slog.Any("secrets", fields),
		slog.String("caller", caller),
		slog.String("outcome", outcome),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.logger.LogAttrs(ctx, slog.LevelInfo, Message, attrs...)
	if sealed {
		s.warnSealed.Do(func() {
			s.logger.LogAttrs(ctx, slog.LevelWarn, "installvault audit layer below the encryption layer",
				slog.String("hint", "it is handed sealed values, so it records a read the encryption layer then fails as ok: put audit.NewStore above crypto.NewStore"))
		})
	}
}
