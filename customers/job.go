package customers

import (
	"context"
	"errors"
	"fmt"

	"github.com/tillpos/till/auth/viewer"
)

// RefreshAllSegments recomputes every merchant's segments; the daily job
// runs it. A merchant that fails is reported and the rest carry on.
func (s *Service) RefreshAllSegments(ctx context.Context) error {
	ids, err := s.db.Merchant.Query().IDs(viewer.NewSystemContext(ctx, "customer-segments"))
	if err != nil {
		return fmt.Errorf("listing merchants: %w", err)
	}
	var failed []error
	for _, id := range ids {
		if _, err := s.RefreshSegments(ctx, id); err != nil {
			failed = append(failed, fmt.Errorf("merchant %s: %w", id, err))
		}
	}
	return errors.Join(failed...)
}
