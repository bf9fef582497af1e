package sales

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/pan"
)

// Freeze stops a disputed sale from being refunded or voided until it is
// unfrozen: the owner or a platform operator, with a reason; audited.
func (s *Service) Freeze(ctx context.Context, id pulid.ID, reason string) (*ent.Sale, error) {
	return s.review(ctx, id, "sale.frozen", reason, func(sl *ent.Sale, upd *ent.SaleUpdateOne) error {
		if sl.Frozen {
			return errs.Newf(errs.Conflict, "the sale is already frozen")
		}
		upd.SetFrozen(true).SetFrozenReason(strings.TrimSpace(reason)).SetFrozenAt(s.now())
		return nil
	})
}

// Unfreeze lets a frozen sale be refunded again.
func (s *Service) Unfreeze(ctx context.Context, id pulid.ID, reason string) (*ent.Sale, error) {
	return s.review(ctx, id, "sale.unfrozen", reason, func(sl *ent.Sale, upd *ent.SaleUpdateOne) error {
		if !sl.Frozen {
			return errs.Newf(errs.Conflict, "the sale is not frozen")
		}
		upd.SetFrozen(false).ClearFrozenReason().ClearFrozenAt()
		return nil
	})
}

// Review settles a sale the risk rules flagged: CLEARED (nothing wrong) or
// CONFIRMED (it was what the rules feared).
func (s *Service) Review(ctx context.Context, id pulid.ID, outcome sale.ReviewStatus, note string) (*ent.Sale, error) {
	if outcome != sale.ReviewStatusCLEARED && outcome != sale.ReviewStatusCONFIRMED {
		return nil, errs.Invalid("outcome", "a review clears or confirms")
	}
	return s.review(ctx, id, "sale.reviewed", note, func(sl *ent.Sale, upd *ent.SaleUpdateOne) error {
		if sl.ReviewStatus != sale.ReviewStatusPENDING {
			return errs.Newf(errs.Conflict, "the sale is not waiting for review")
		}
		upd.SetReviewStatus(outcome)
		return nil
	})
}

// review changes a sale as its owner or a platform operator: change checks
// the sale as it stands (locked) and sets what changes on upd. The change
// and its audit entry (with note) commit together.
func (s *Service) review(ctx context.Context, id pulid.ID, action, note string, change func(*ent.Sale, *ent.SaleUpdateOne) error) (*ent.Sale, error) {
	v := viewer.FromContext(ctx)
	if !v.IsOperator() && !(v.IsStaff() && v.Role == viewer.RoleOwner) {
		return nil, errs.Newf(errs.Forbidden, "only the owner or a platform operator may do this")
	}
	// A review's note is optional; freezing and unfreezing need a reason.
	note = strings.TrimSpace(note)
	noteField := "reason"
	switch {
	case action == "sale.reviewed":
		noteField = "note"
	case note == "":
		return nil, errs.Invalid(noteField, "give a reason")
	}
	if utf8.RuneCountInString(note) > maxNoteRunes {
		return nil, errs.Invalid(noteField, "at most %d characters", maxNoteRunes)
	}
	if err := pan.Check(noteField, note); err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Sale, error) {
		if _, err := tx.Sale.Query().Where(sale.ID(id)).Select(sale.FieldID).Modify(db.ForUpdate).Strings(ctx); err != nil {
			return nil, fmt.Errorf("locking sale: %w", err)
		}
		sl, err := tx.Sale.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil, &errs.Error{Code: errs.NotFound, Field: "saleId", Message: "sale not found"}
		}
		if err != nil {
			return nil, fmt.Errorf("loading sale: %w", err)
		}
		upd := tx.Sale.UpdateOne(sl)
		if err := change(sl, upd); err != nil {
			return nil, err
		}
		// An operator reads every merchant's sales but writes no tenant
		// rows; their review is written as the system, the operator named
		// in the audit entry.
		writeCtx := ctx
		if v.IsOperator() {
			writeCtx = viewer.NewSystemContext(ctx, action)
		}
		if sl, err = upd.Save(writeCtx); err != nil {
			return nil, fmt.Errorf("updating sale: %w", err)
		}
		return sl, audit.Record(ctx, tx.Client(), audit.Entry{
			MerchantID: sl.MerchantID, Action: action, TargetType: "Sale", TargetID: sl.ID,
			Details: map[string]any{"note": note, "reviewStatus": sl.ReviewStatus, "frozen": sl.Frozen},
		})
	})
}

// Query is the sales the caller may list: an operator every merchant's,
// the owner all of the merchant's, other staff those of the stores they
// work at. The privacy rules confine it (rule.FilterStoreRule), as they
// do node(id:) and every edge that leads to a sale.
func (s *Service) Query(ctx context.Context) (*ent.SaleQuery, error) {
	if v := viewer.FromContext(ctx); !v.IsStaff() && !v.IsOperator() {
		return nil, errs.Newf(errs.Forbidden, "only staff and operators list sales")
	}
	return s.db.Sale.Query(), nil
}

// UploadStatus is what became of one uploaded sale.
type UploadStatus string

// The upload statuses.
const (
	UploadCreated  UploadStatus = "CREATED"
	UploadReplayed UploadStatus = "REPLAYED"
	UploadFailed   UploadStatus = "FAILED"
)

// UploadResult is what became of one uploaded sale.
type UploadResult struct {
	IdempotencyKey string
	Status         UploadStatus
	Sale           *ent.Sale
	Err            *errs.Error
}

// Upload records sales a terminal kept while offline, each on its own and
// idempotently, so that one bad sale does not hold back the others and the
// upload can be retried whole.
func (s *Service) Upload(ctx context.Context, ins []SaleInput) ([]UploadResult, error) {
	if _, err := viewer.Staff(ctx); err != nil {
		return nil, err
	}
	if len(ins) == 0 || len(ins) > maxUploadSales {
		return nil, errs.Invalid("sales", "upload 1 to %d sales at a time", maxUploadSales)
	}
	results := make([]UploadResult, len(ins))
	for i, in := range ins {
		in.Offline = true
		res := &results[i]
		res.IdempotencyKey = in.IdempotencyKey
		sl, replayed, err := s.Record(ctx, in)
		switch e, coded := errs.As(err); {
		case err == nil && replayed:
			res.Status, res.Sale = UploadReplayed, sl
		case err == nil:
			res.Status, res.Sale = UploadCreated, sl
		case coded:
			// The field names the upload's input: the sale's own field, or
			// the sale itself when the error is about it as a whole (a
			// limit, a risk rule).
			item := *e
			if item.Field != "" {
				item.Field = fmt.Sprintf("sales[%d].%s", i, item.Field)
			} else {
				item.Field = fmt.Sprintf("sales[%d]", i)
			}
			res.Status, res.Err = UploadFailed, &item
		default:
			s.log.ErrorContext(ctx, "uploading a sale", "err", err, "idempotency_key", in.IdempotencyKey)
			res.Status, res.Err = UploadFailed, errs.Newf(errs.Internal, "internal error; upload this sale again later")
		}
	}
	return results, nil
}
