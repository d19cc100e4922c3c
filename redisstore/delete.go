package redisstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/installvault/installvault/installstore"
)

// DeleteInstallation implements [installstore.Store]: one script on the
// tenant's group. Without q.UserID it deletes the tenant's hash and its
// index entries, whatever the hash holds; with it, the user's installation
// (and the user's tokens from the latest installation when that user
// installed last), and the whole tenant when no bot and no user token is
// left. A workspace of an enterprise (E, T) takes its standalone record
// (no enterprise, T) with it, in the same script.
func (s *Store) DeleteInstallation(ctx context.Context, q installstore.Query) error {
	return s.delete(ctx, "delete", q, deleteWhat(q), "")
}

// DeleteInstallationIf implements [installstore.ConditionalDeleter]: as
// DeleteInstallation, in the same script, only while the Version of
// q.Tenant() itself (no fallback) is version. To purge what a fetch fell
// back to, name the returned record's tenant (inst.Query()).
func (s *Store) DeleteInstallationIf(ctx context.Context, q installstore.Query, version int64) error {
	return s.delete(ctx, "conditional delete", q, deleteWhat(q), strconv.FormatInt(version, 10))
}

// DeleteBot implements [installstore.BotDeleter]: one script that removes
// the tenant's bot and gives it a new Version. A tenant whose key holds
// another type than a hash (nothing of it can be read) is deleted.
func (s *Store) DeleteBot(ctx context.Context, q installstore.Query) error {
	return s.delete(ctx, "delete bot", q, "bot", "")
}

// DeleteBotIf implements [installstore.ConditionalDeleter]: DeleteBot under
// DeleteInstallationIf's condition.
func (s *Store) DeleteBotIf(ctx context.Context, q installstore.Query, version int64) error {
	return s.delete(ctx, "conditional delete bot", q, "bot", strconv.FormatInt(version, 10))
}

func deleteWhat(q installstore.Query) string {
	if q.UserID != "" {
		return "user"
	}
	return "tenant"
}

func (s *Store) delete(ctx context.Context, op string, q installstore.Query, what, expected string) error {
	if err := q.Validate(); err != nil {
		return err
	}
	t := q.Tenant()
	if q.UserID != "" && what == "user" {
		op += " user " + q.UserID + " of"
	}
	if err := ctxErr(ctx, op, t); err != nil {
		return err
	}
	ks, tw := s.tenantKeys(t)
	res, err := deleteScript.Run(ctx, s.client, ks, t.Key(), tw, writeToken(), what, q.UserID, expected).StringSlice()
	if err != nil {
		return wrap(ctx, op, t, err)
	}
	if len(res) != 2 {
		return fmt.Errorf("redisstore: %s tenant %s: the delete script returned %d values, not 2", op, t, len(res))
	}
	switch res[0] {
	case "ok":
		return nil
	case "conflict":
		return fmt.Errorf("redisstore: %s tenant %s: %w (stored %s, expected %s)", op, t, installstore.ErrConflict, res[1], expected)
	default:
		return fmt.Errorf("redisstore: %s tenant %s: the delete script returned %q", op, t, res[0])
	}
}
