package redisstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/installvault/installvault/installstore"
)

// UpdateInstallation implements [installstore.Updater]: one script that
// compares the tenant's Version with inst.Version and, when equal, replaces
// the user's installation (and the latest one when that user installed
// last), and the bot when inst.Bot is non-nil. It never creates a tenant or
// a user installation ([installstore.ErrNotFound]); a deleted and
// re-installed tenant has larger Versions, so an update read before the
// uninstall gives [installstore.ErrConflict].
func (s *Store) UpdateInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	q := inst.Query()
	t := q.Tenant()
	if err := s.checkSecrets("update", inst); err != nil {
		return err
	}
	if err := ctxErr(ctx, "update", t); err != nil {
		return err
	}
	var bot string
	var bdue int64
	if inst.Bot != nil {
		bot, bdue = encodeBot(inst.Bot), botDue(inst.Bot)
	}
	ks, _ := s.tenantKeys(t)
	res, err := updateScript.Run(ctx, s.client, ks[:4],
		t.Key(), writeToken(), strconv.FormatInt(inst.Version, 10), q.UserID,
		encodeRecord(inst), encodeUser(inst.User), userDue(inst.User), flag(!inst.User.Token.IsZero()), bot, bdue).StringSlice()
	if err != nil {
		return wrap(ctx, "update", t, err)
	}
	if len(res) != 2 {
		return fmt.Errorf("redisstore: update tenant %s: the update script returned %d values, not 2", t, len(res))
	}
	switch res[0] {
	case "ok":
		v, err := strconv.ParseInt(res[1], 10, 64)
		if err != nil {
			return fmt.Errorf("redisstore: update tenant %s: the update script returned a Version that is not an integer", t)
		}
		inst.Version = v
		return nil
	case "conflict":
		return fmt.Errorf("redisstore: update tenant %s: %w (stored %s, expected %d)", t, installstore.ErrConflict, res[1], inst.Version)
	case "notfound", "nouser":
		return notFound("update", q)
	case "owned":
		return fmt.Errorf("redisstore: update tenant %s: %w: the latest installation belongs to a user; update it with that User.ID", t, installstore.ErrConflict)
	case "corrupt":
		return corruptf("update", q, "the tenant has no Version or its key holds another type than a hash")
	default:
		return fmt.Errorf("redisstore: update tenant %s: the update script returned %q", t, res[0])
	}
}
