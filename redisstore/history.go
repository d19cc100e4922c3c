package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/installvault/installvault/installstore"
)

// historyFormat is the format of the history entries this release writes
// (field f of an entry). An entry of another format is skipped and
// reported, never misread.
const historyFormat = 1

// wireEntry is a history entry as stored: the installation as its record
// holds it (the record, the user and the bot it carried, each encoded as in
// a tenant hash, so sealed secrets stay sealed), with the Version its
// store set.
type wireEntry struct {
	F    int             `json:"f"`
	Ver  int64           `json:"ver"`
	Rec  json.RawMessage `json:"rec"`
	User json.RawMessage `json:"user"`
	Bot  json.RawMessage `json:"bot,omitempty"`
}

// entryParts returns the JSON of inst's history entry before and after its
// Version, which the store script puts between them once it has set it.
func entryParts(inst *installstore.Installation) (before, after string) {
	var b strings.Builder
	b.WriteString(`,"rec":`)
	b.WriteString(encodeRecord(inst))
	b.WriteString(`,"user":`)
	b.WriteString(encodeUser(inst.User))
	if inst.Bot != nil {
		b.WriteString(`,"bot":`)
		b.WriteString(encodeBot(inst.Bot))
	}
	b.WriteString("}")
	return `{"f":` + strconv.Itoa(historyFormat) + `,"ver":`, b.String()
}

// encodeEntry returns inst's history entry with inst.Version.
func encodeEntry(inst *installstore.Installation) string {
	before, after := entryParts(inst)
	return before + strconv.FormatInt(inst.Version, 10) + after
}

// entryField is the field (and index member) of the entry of user uid
// installed at: "<when>:<uid>", <when> being 16 hex digits of the Unix
// seconds + 2^63 and 8 of the nanoseconds, so that lexicographic order is
// install time order, at full precision, for every time.Time.
func entryField(at time.Time, uid string) string {
	return fmt.Sprintf("%016x%08x:%s", uint64(at.Unix())+1<<63, at.Nanosecond(), uid)
}

// parseEntryField is the inverse of entryField.
func parseEntryField(f string) (time.Time, string, bool) {
	if len(f) < 25 || f[24] != ':' {
		return time.Time{}, "", false
	}
	sec, err1 := strconv.ParseUint(f[:16], 16, 64)
	nsec, err2 := strconv.ParseUint(f[16:24], 16, 32)
	uid := f[25:]
	if err1 != nil || err2 != nil || nsec >= 1e9 || (uid != "" && (installstore.Query{TeamID: "T", UserID: uid}).Validate() != nil) {
		return time.Time{}, "", false
	}
	return time.Unix(int64(sec-1<<63), int64(nsec)).UTC(), uid, true
}

// decodeEntry decodes an entry of tenant t stored under the field of (at,
// uid), and checks that it is that entry.
func decodeEntry(t installstore.Tenant, at time.Time, uid, s string) (*installstore.Installation, error) {
	var w wireEntry
	if err := json.Unmarshal([]byte(s), &w); err != nil {
		return nil, fmt.Errorf("the entry does not decode")
	}
	if w.F != historyFormat {
		return nil, fmt.Errorf("the entry has format %d, which this release does not read", w.F)
	}
	if len(w.Rec) == 0 || len(w.User) == 0 {
		return nil, fmt.Errorf("the entry has no record or no user")
	}
	inst, err := decodeRecord(t, uid, string(w.Rec), string(w.User))
	if err != nil {
		return nil, err
	}
	if inst.User.ID != uid {
		return nil, fmt.Errorf("the entry names another user")
	}
	if !inst.InstalledAt.Equal(at) {
		return nil, fmt.Errorf("the entry names another install time")
	}
	if len(w.Bot) > 0 {
		if inst.Bot, err = decodeBot(string(w.Bot)); err != nil {
			return nil, err
		}
	}
	inst.Version = w.Ver
	return inst, nil
}

// historyOff is the error of ListHistory and PutHistory without WithHistory.
func historyOff(op string, t installstore.Tenant) error {
	return fmt.Errorf("redisstore: %s tenant %s: %w", op, t, installstore.ErrHistoryOff)
}

// ListHistory implements [installstore.History]: it reads the tenant's
// history index newest first, 100 entries a page (ZRANGE BYLEX REV ...
// LIMIT, then one HMGET of the page's entries), so memory stays bounded by
// a page. With q.UserID it reads the same pages and hands out that user's
// entries only. An entry that does not decode (or names another tenant,
// user or install time than its field) is skipped, and the returned error
// wraps [installstore.ErrCorrupt] naming it (tenant, user, never content).
// Without [WithHistory] it gives [installstore.ErrHistoryOff].
func (s *Store) ListHistory(ctx context.Context, q installstore.Query, fn func(*installstore.Installation) error) error {
	if err := q.Validate(); err != nil {
		return err
	}
	t := q.Tenant()
	const op = "list history of"
	if !s.history {
		return historyOff(op, t)
	}
	if err := ctxErr(ctx, op, t); err != nil {
		return err
	}
	k := s.groupOf(t)
	hkey, ikey := k.history(t), k.historyIndex(t)
	var sk skipped
	start := "+"
	for {
		members, err := s.client.ZRangeArgs(ctx, redis.ZRangeArgs{Key: ikey, Start: start, Stop: "-", ByLex: true, Rev: true, Count: pageSize}).Result()
		if err != nil {
			return s.historyErr(ctx, op, q, err)
		}
		if len(members) > 0 {
			vals, err := s.client.HMGet(ctx, hkey, members...).Result()
			if err != nil {
				return s.historyErr(ctx, op, q, err)
			}
			for i, m := range members {
				at, uid, ok := parseEntryField(m)
				switch {
				case !ok:
					sk.add("tenant %s: a history index member that is not an entry", t)
					continue
				case q.UserID != "" && uid != q.UserID:
					continue
				case vals[i] == nil:
					continue // deleted meanwhile
				}
				v, _ := vals[i].(string)
				inst, err := decodeEntry(t, at, uid, v)
				if err != nil {
					sk.add("tenant %s history entry of %s: %v", t, entryName(uid, at), err)
					continue
				}
				if err := fn(inst); err != nil {
					return err
				}
			}
		}
		if len(members) < pageSize {
			break
		}
		start = "(" + members[len(members)-1]
	}
	return sk.err(fmt.Sprintf("%s tenant %s", op, t))
}

// entryName names an entry in an error: "user U1 at 2026-...Z" (or "no
// user at ..."), never its content.
func entryName(uid string, at time.Time) string {
	if uid == "" {
		return "no user at " + at.Format(time.RFC3339Nano)
	}
	return "user " + uid + " at " + at.Format(time.RFC3339Nano)
}

// historyErr wraps a Redis error of a history call: WRONGTYPE (a history
// key holding another type) names the tenant's history as corrupt.
func (s *Store) historyErr(ctx context.Context, op string, q installstore.Query, err error) error {
	if isWrongType(err) {
		return corruptf(op, q, "a history key of the tenant holds another type than the store writes")
	}
	return wrap(ctx, op, q.Tenant(), err)
}

// PutHistory implements [installstore.History]: one script that writes
// inst as the history entry of (its tenant, inst.User.ID, inst.InstalledAt),
// replacing the entry of that key, with inst.Version as it is; no record
// is touched. inst must be valid, have a non-zero InstalledAt and, unless
// [WithPlaintextSecrets], hold sealed secrets only ([installstore.ErrInvalid]).
// Without [WithHistory] it gives [installstore.ErrHistoryOff].
func (s *Store) PutHistory(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	t := inst.Tenant()
	const op = "put history of"
	if !s.history {
		return historyOff(op, t)
	}
	if inst.InstalledAt.IsZero() {
		return fmt.Errorf("redisstore: %s tenant %s: %w: the entry has no InstalledAt", op, t, installstore.ErrInvalid)
	}
	if err := s.checkSecrets(op, inst); err != nil {
		return err
	}
	if err := ctxErr(ctx, op, t); err != nil {
		return err
	}
	k := s.groupOf(t)
	err := putHistoryScript.Run(ctx, s.client, []string{k.history(t), k.historyIndex(t)},
		entryField(inst.InstalledAt, inst.User.ID), encodeEntry(inst)).Err()
	if err != nil {
		return s.historyErr(ctx, op, inst.Query(), err)
	}
	return nil
}
