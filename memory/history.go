package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/installvault/installvault/installstore"
)

// ListHistory implements [installstore.History]: the tenant's entries,
// newest first, from a snapshot taken under the lock. A store built without
// [WithHistory] gives [installstore.ErrHistoryOff].
func (s *Store) ListHistory(ctx context.Context, q installstore.Query, fn func(*installstore.Installation) error) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if !s.keeps {
		return fmt.Errorf("memory: list history of tenant %s: %w", q.Tenant(), installstore.ErrHistoryOff)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	entries := slices.Clone(s.history[q.Tenant()])
	s.mu.RUnlock()
	for _, h := range entries {
		if q.UserID != "" && h.User.ID != q.UserID {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(h.Clone()); err != nil {
			return err
		}
	}
	return nil
}

// PutHistory implements [installstore.History].
func (s *Store) PutHistory(ctx context.Context, inst *installstore.Installation) error {
	if err := inst.Validate(); err != nil {
		return err
	}
	if inst.InstalledAt.IsZero() {
		return fmt.Errorf("memory: put history of tenant %s: %w: a history entry needs its InstalledAt", inst.Tenant(), installstore.ErrInvalid)
	}
	if !s.keeps {
		return fmt.Errorf("memory: put history of tenant %s: %w", inst.Tenant(), installstore.ErrHistoryOff)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putHistory(inst)
	return nil
}

// putHistory adds a copy of inst to its tenant's history, replacing the
// entry of the same user and install time. The caller holds s.mu for
// writing.
func (s *Store) putHistory(inst *installstore.Installation) {
	key := inst.Tenant()
	entry := inst.Clone()
	hs := s.history[key]
	hs = slices.DeleteFunc(hs, func(h *installstore.Installation) bool {
		return h.User.ID == inst.User.ID && h.InstalledAt.Equal(inst.InstalledAt)
	})
	i, _ := slices.BinarySearchFunc(hs, entry, newestFirst)
	s.history[key] = slices.Insert(hs, i, entry)
}

// newestFirst orders history entries by install time, newest first, then
// by user.
func newestFirst(a, b *installstore.Installation) int {
	if c := b.InstalledAt.Compare(a.InstalledAt); c != 0 {
		return c
	}
	switch {
	case a.User.ID < b.User.ID:
		return -1
	case a.User.ID > b.User.ID:
		return 1
	}
	return 0
}

// purgeHistory deletes key's history, or user's entries of it. The caller
// holds s.mu for writing.
func (s *Store) purgeHistory(key installstore.Tenant, user string) {
	if s.history == nil {
		return
	}
	if user == "" {
		delete(s.history, key)
		return
	}
	hs := slices.DeleteFunc(s.history[key], func(h *installstore.Installation) bool { return h.User.ID == user })
	if len(hs) == 0 {
		delete(s.history, key)
		return
	}
	s.history[key] = hs
}
