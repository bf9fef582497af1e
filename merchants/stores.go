package merchants

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/errs"
)

// StoreInput describes a store; on update nil fields stay as they are.
type StoreInput struct {
	Name     *string
	Address  *string
	TimeZone *string
}

// CreateStore opens a store. OWNER only.
func (s *Service) CreateStore(ctx context.Context, in StoreInput) (*ent.Store, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() || !v.HasRole(viewer.RoleOwner) {
		return nil, errs.Newf(errs.Forbidden, "only the owner can open a store")
	}
	if in.Name == nil {
		return nil, errs.Invalid("name", "is required")
	}
	if in.TimeZone == nil {
		return nil, errs.Invalid("timeZone", "is required")
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Store, error) {
		create := tx.Store.Create()
		if err := applyStore(create.Mutation(), in); err != nil {
			return nil, err
		}
		st, err := create.Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("creating store: %w", err)
		}
		return st, audit.Record(ctx, tx.Client(), audit.Entry{Action: "store.created", TargetType: "Store", TargetID: st.ID})
	})
}

// UpdateStore changes a store: the OWNER, or a MANAGER who works there.
func (s *Service) UpdateStore(ctx context.Context, id pulid.ID, in StoreInput) (*ent.Store, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() || !v.HasRole(viewer.RoleOwner, viewer.RoleManager) {
		return nil, errs.Newf(errs.Forbidden, "only the owner or a manager can change a store")
	}
	if exists, err := s.db.Store.Query().Where(store.ID(id)).Exist(ctx); err != nil {
		return nil, fmt.Errorf("loading store: %w", err)
	} else if !exists {
		return nil, errs.Newf(errs.NotFound, "store not found")
	}
	if v.Role == viewer.RoleManager {
		worksThere, err := worksAt(ctx, s.db, v, id)
		if err != nil {
			return nil, err
		}
		if !worksThere {
			return nil, errs.Newf(errs.Forbidden, "a manager changes only the stores they work at")
		}
	}

	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Store, error) {
		upd := tx.Store.UpdateOneID(id)
		if err := applyStore(upd.Mutation(), in); err != nil {
			return nil, err
		}
		st, err := upd.Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("updating store: %w", err)
		}
		return st, audit.Record(ctx, tx.Client(), audit.Entry{Action: "store.updated", TargetType: "Store", TargetID: st.ID})
	})
}

// applyStore validates in and sets it on m.
func applyStore(m *ent.StoreMutation, in StoreInput) error {
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if err := validateName("name", name); err != nil {
			return err
		}
		m.SetName(name)
	}
	if in.Address != nil {
		address := strings.TrimSpace(*in.Address)
		if len([]rune(address)) > 500 {
			return errs.Invalid("address", "must be at most 500 characters")
		}
		m.SetAddress(address)
	}
	if in.TimeZone != nil {
		if err := ValidateTimeZone("timeZone", *in.TimeZone); err != nil {
			return err
		}
		m.SetTimeZone(*in.TimeZone)
	}
	return nil
}

// StoreFor loads a store of the viewer's merchant that v works at: the
// owner at every store, anyone else where they are assigned. field names
// the input for the error: NOT_FOUND (no such store in the merchant) or
// FORBIDDEN (not theirs).
func StoreFor(ctx context.Context, client *ent.Client, v *viewer.Viewer, id pulid.ID, field string) (*ent.Store, error) {
	st, err := client.Store.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, &errs.Error{Code: errs.NotFound, Field: field, Message: "store not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("loading store: %w", err)
	}
	if v.Role == viewer.RoleOwner {
		return st, nil
	}
	works, err := worksAt(ctx, client, v, id)
	if err != nil {
		return nil, err
	}
	if !works {
		return nil, &errs.Error{Code: errs.Forbidden, Field: field, Message: "you do not work at this store"}
	}
	return st, nil
}

// worksAt reports whether staff member v is assigned to store id, from the
// stores read with the request when they were.
func worksAt(ctx context.Context, client *ent.Client, v *viewer.Viewer, id pulid.ID) (bool, error) {
	if v.StoreIDs != nil {
		return slices.Contains(v.StoreIDs, id), nil
	}
	works, err := client.Store.Query().Where(store.ID(id), store.HasStaffWith(staff.ID(v.ID))).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("loading store staff: %w", err)
	}
	return works, nil
}
