package sqlite

import (
	"context"
	"fmt"

	"github.com/installvault/installvault/installstore"
)

// ListHistory gives [installstore.ErrHistoryOff]: this store keeps no
// installation history yet.
func (s *Store) ListHistory(ctx context.Context, q installstore.Query, fn func(*installstore.Installation) error) error {
	return fmt.Errorf("sqlite: list history of tenant %s: %w", q.Tenant(), installstore.ErrHistoryOff)
}

// PutHistory gives [installstore.ErrHistoryOff]: this store keeps no
// installation history yet.
func (s *Store) PutHistory(ctx context.Context, inst *installstore.Installation) error {
	return fmt.Errorf("sqlite: put history of tenant %s: %w", inst.Tenant(), installstore.ErrHistoryOff)
}
