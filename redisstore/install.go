package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/installvault/installvault/installstore"
)

// writeToken names one write, so that a write the client retried after a
// lost reply (go-redis retries on EOF and dial errors) recognizes its own
// effect instead of reporting a conflict.
func writeToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// StoreInstallation implements [installstore.Store]: one script on the
// tenant's group that writes the latest installation, the user's and the
// bot, updates the due index, removes the standalone twin's record of a
// workspace of an enterprise (a Grid migration; the twin's history stays)
// and, with [WithHistory], writes the history entry, all at once.
func (s *Store) StoreInstallation(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	t := inst.Tenant()
	if err := s.checkSecrets("store", inst); err != nil {
		return err
	}
	if err := ctxErr(ctx, "store", t); err != nil {
		return err
	}
	if inst.InstalledAt.IsZero() {
		inst.InstalledAt = s.now()
	}
	if inst.Bot != nil && inst.Bot.InstalledAt.IsZero() {
		inst.Bot.InstalledAt = inst.InstalledAt
	}
	var bot string
	var bdue int64
	if inst.Bot != nil {
		bot, bdue = encodeBot(inst.Bot), botDue(inst.Bot)
	}
	var hfield, hbefore, hafter string
	if s.history {
		hfield = entryField(inst.InstalledAt, inst.User.ID)
		hbefore, hafter = entryParts(inst)
	}
	ks, tw := s.tenantKeys(t)
	res, err := storeScript.Run(ctx, s.client, ks,
		t.Key(), tw, writeToken(), encodeRecord(inst), encodeUser(inst.User), inst.User.ID,
		userDue(inst.User), flag(!inst.User.Token.IsZero()), bot, bdue, hfield, hbefore, hafter).Text()
	if err != nil {
		return wrap(ctx, "store", t, err)
	}
	v, err := strconv.ParseInt(res, 10, 64)
	if err != nil {
		return fmt.Errorf("redisstore: store tenant %s: the store script returned a Version that is not an integer", t)
	}
	inst.Version = v
	return nil
}

// FetchInstallation implements [installstore.Store]: one HMGET of the
// tenant's hash (the Version, the bot, and the latest or the user's
// record, read together). A workspace of an enterprise with no record of
// its own costs one more for its standalone record, and one more for the
// org-wide installation.
func (s *Store) FetchInstallation(ctx context.Context, q installstore.Query) (*installstore.Installation, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	t := q.Tenant()
	if err := ctxErr(ctx, "fetch", t); err != nil {
		return nil, err
	}
	inst, exists, err := s.fetch(ctx, t, q.UserID)
	if exists || err != nil {
		return inst, err
	}
	if !q.IsEnterpriseInstall && q.EnterpriseID != "" {
		for _, fb := range []installstore.Tenant{{TeamID: q.TeamID}, {EnterpriseID: q.EnterpriseID}} {
			inst, exists, err = s.fetch(ctx, fb, q.UserID)
			if exists || err != nil {
				return inst, err
			}
		}
	}
	return nil, notFound("fetch", q)
}

// fetch reads tenant t's latest installation (uid == "") or user uid's. It
// reports whether the tenant exists; when it does and the record does not,
// the error wraps ErrNotFound.
func (s *Store) fetch(ctx context.Context, t installstore.Tenant, uid string) (*installstore.Installation, bool, error) {
	key := s.groupOf(t).tenant(t)
	q := installstore.Query{EnterpriseID: t.EnterpriseID, TeamID: t.TeamID, UserID: uid, IsEnterpriseInstall: t.IsEnterprise()}
	// One HMGET: the Version, the bot, the latest installation and, for a
	// user, the user's own fields (absent when that user installed last).
	fields := []string{"v", "bot", "lrec", "luser"}
	if uid != "" {
		fields = append(fields, "lu", "r:"+uid, "p:"+uid)
	}
	vals, err := s.client.HMGet(ctx, key, fields...).Result()
	if err != nil {
		if isWrongType(err) {
			return nil, true, corruptf("fetch", q, "the tenant's key holds another type than a hash")
		}
		return nil, false, wrap(ctx, "fetch", t, err)
	}
	f := strs(vals)
	present := false
	for _, v := range vals {
		present = present || v != nil
	}
	switch {
	case !present:
		return nil, false, nil
	case vals[0] == nil:
		return nil, true, corruptf("fetch", q, "the tenant has no Version")
	case uid == "" || (vals[5] == nil && f[4] == uid):
		if vals[2] == nil {
			return nil, true, corruptf("fetch", q, "the tenant has no latest installation")
		}
		if uid != "" && vals[3] == nil {
			return nil, true, corruptf("fetch", q, "the latest installer has no user")
		}
		inst, err := assemble(t, uid, f[0], f[1], f[2], f[3])
		if err != nil {
			return nil, true, corruptf("fetch", q, "%v", err)
		}
		return inst, true, nil
	case vals[5] == nil:
		return nil, true, notFound("fetch", q)
	default:
		inst, err := assemble(t, uid, f[0], f[1], f[5], f[6])
		if err != nil {
			return nil, true, corruptf("fetch", q, "%v", err)
		}
		return inst, true, nil
	}
}

// assemble decodes a record with the tenant's Version and bot.
func assemble(t installstore.Tenant, uid, version, bot, rec, usr string) (*installstore.Installation, error) {
	v, err := strconv.ParseInt(version, 10, 64)
	if err != nil || v <= 0 {
		return nil, fmt.Errorf("the Version is not a positive integer")
	}
	inst, err := decodeRecord(t, uid, rec, usr)
	if err != nil {
		return nil, err
	}
	if bot != "" {
		if inst.Bot, err = decodeBot(bot); err != nil {
			return nil, err
		}
	}
	inst.Version = v
	return inst, nil
}
