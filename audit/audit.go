// Package audit wraps an installstore.Store so that every read that hands
// out a secret leaves one structured log/slog record: which tenant, which
// secrets (field names, never values), who asked (the caller label of
// [installstore.WithCaller]), the outcome, and when.
//
// Put it where reads leave the vault, above the encryption layer, so that
// failed decryptions are recorded too:
//
//	handler → rotation.Refresher → audit.NewStore → crypto.NewStore → backend
//
// Records are emitted at Info level with the message "installvault token
// read" and these attributes:
//
//	op           "fetch" or "list"
//	enterprise_id, team_id, user_id, is_enterprise_install   the query
//	tenant       the tenant whose record was returned (differs from the query
//	             when a workspace was served by its organization's org-wide install)
//	secrets      the secret fields returned, e.g. [bot.token user.token]
//	caller       installstore.CallerFrom(ctx), "unknown" when unset
//	outcome      "ok", "not_found" or "error"
//	error        the error message (errors never carry secrets)
//
// A fetch that returns no secret (a not-found, or a record without tokens)
// is recorded too: an audit trail of attempts is as useful as one of reads.
//
// Records count store reads, not requests: an Authorize that refreshes a
// token reads the store more than once (before and after the refresh) and
// leaves one record per read.
package audit

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/installvault/installvault/installstore"
)

// Message is the log message of every audit record.
const Message = "installvault token read"

// store is the audit layer. Methods that hand out no secret pass through.
type store struct {
	installstore.Passthrough
	logger *slog.Logger
	now    func() time.Time
}

// Option configures the audit layer.
type Option func(*store)

// WithClock sets the clock that timestamps records (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *store) { s.now = now } }

// NewStore returns inner wrapped so that reads are audited to logger. The
// result implements exactly the optional interfaces inner implements.
func NewStore(inner installstore.Store, logger *slog.Logger, opts ...Option) (installstore.Store, error) {
	if inner == nil {
		return nil, errors.New("audit: nil inner store")
	}
	if logger == nil {
		return nil, errors.New("audit: nil logger (an audit layer that logs nowhere is a mistake)")
	}
	s := &store{Passthrough: installstore.Passthrough{Inner: inner}, logger: logger, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return installstore.Mirror(s, inner), nil
}

func (s *store) record(ctx context.Context, op string, q installstore.Query, inst *installstore.Installation, err error) {
	caller := installstore.CallerFrom(ctx)
	if caller == "" {
		caller = "unknown"
	}
	var fields []string
	tenant := ""
	if inst != nil {
		tenant = inst.Tenant().String()
		_ = inst.Secrets(func(field string, _ *installstore.Secret) error {
			fields = append(fields, field)
			return nil
		})
	}
	outcome := "ok"
	switch {
	case errors.Is(err, installstore.ErrNotFound):
		outcome = "not_found"
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
}

// FetchInstallation implements [installstore.Store] and records the read.
func (s *store) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	inst, err := s.Inner.FetchInstallation(ctx, q)
	s.record(ctx, "fetch", q, inst, err)
	return inst, err
}

// ListInstallations implements [installstore.Lister] and records every
// record handed to fn.
func (s *store) ListInstallations(ctx context.Context, fn func(installstore.Query, *installstore.Installation) error) error {
	return s.Inner.(installstore.Lister).ListInstallations(ctx, func(q installstore.Query, inst *installstore.Installation) error {
		s.record(ctx, "list", q, inst, nil)
		return fn(q, inst)
	})
}
