// Package feedback keeps customers' ratings of their visits — of the
// products, the service or the experience — and the averages per store and
// per product the owner watches.
package feedback

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	entfeedback "github.com/tillpos/till/ent/feedback"
	"github.com/tillpos/till/ent/predicate"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/saleline"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/ptr"
	"github.com/tillpos/till/outbox"
)

// LowRating is the highest rating that raises a feedback.low event.
const LowRating = 2

const maxCommentRunes = 2000

// Service records feedback and sums it up.
type Service struct {
	db    *ent.Client
	sales Sales
}

// Sales is what feedback needs of the sales domain.
type Sales interface {
	// Query is the sales the caller may see: the owner's all the
	// merchant's, other staff's those of the stores they work at.
	Query(ctx context.Context) (*ent.SaleQuery, error)
}

// New returns a Service rating the sales that sales lets the caller see.
func New(client *ent.Client, sales Sales) *Service { return &Service{db: client, sales: sales} }

// Input is one piece of feedback about a sale.
type Input struct {
	SaleID    pulid.ID
	Rating    int
	Category  entfeedback.Category
	ProductID *pulid.ID
	Comment   *string
}

// Record stores feedback about a sale the caller may see (of a store they
// work at; the owner's: any), recorded by any staff member (the customer
// rates on the counter's tablet). A sale takes one rating per category, and
// for PRODUCT one per product: a rating, once given, stands, so a second is
// CONFLICT; so is rating a voided sale. A low rating raises feedback.low
// for the owner's phone.
//
// Errors: FORBIDDEN (not staff), BAD_USER_INPUT (naming the field),
// NOT_FOUND (saleId), CONFLICT.
func (s *Service) Record(ctx context.Context, in Input) (*ent.Feedback, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() {
		return nil, errs.Newf(errs.Forbidden, "only a merchant's staff record feedback")
	}
	comment := strings.TrimSpace(ptr.Value(in.Comment))
	switch {
	case in.Rating < 1 || in.Rating > 5:
		return nil, errs.Invalid("rating", "a rating is 1 to 5")
	case utf8.RuneCountInString(comment) > maxCommentRunes:
		return nil, errs.Invalid("comment", "a comment is at most %d characters", maxCommentRunes)
	case in.Category == entfeedback.CategoryPRODUCT && in.ProductID == nil:
		return nil, errs.Invalid("productId", "product feedback names the product")
	case in.Category != entfeedback.CategoryPRODUCT && in.ProductID != nil:
		return nil, errs.Invalid("productId", "only product feedback names a product")
	}
	notFound := &errs.Error{Code: errs.NotFound, Field: "saleId", Message: "sale not found"}
	visible, err := s.sales.Query(ctx)
	if err != nil {
		return nil, err
	}
	if ok, err := visible.Where(sale.ID(in.SaleID)).Exist(ctx); err != nil {
		return nil, fmt.Errorf("finding sale: %w", err)
	} else if !ok {
		return nil, notFound
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Feedback, error) {
		// The sale is locked, so that of two identical ratings sent at once
		// the second sees the first (and a void waits, or goes first).
		if _, err := tx.Sale.Query().Where(sale.ID(in.SaleID)).Select(sale.FieldID).Modify(db.ForUpdate).Strings(ctx); err != nil {
			return nil, fmt.Errorf("locking sale: %w", err)
		}
		sl, err := tx.Sale.Get(ctx, in.SaleID)
		if ent.IsNotFound(err) {
			return nil, notFound
		}
		if err != nil {
			return nil, fmt.Errorf("loading sale: %w", err)
		}
		if sl.Status == sale.StatusVOIDED {
			return nil, &errs.Error{Code: errs.Conflict, Field: "saleId", Message: "the sale was voided; there is nothing to rate"}
		}
		sameSubject := entfeedback.ProductIDIsNil()
		if in.ProductID != nil {
			sold, err := tx.SaleLine.Query().Where(saleline.SaleID(sl.ID), saleline.ProductID(*in.ProductID)).Exist(ctx)
			if err != nil {
				return nil, fmt.Errorf("loading sale lines: %w", err)
			}
			if !sold {
				return nil, errs.Invalid("productId", "the sale has no such product")
			}
			sameSubject = entfeedback.ProductID(*in.ProductID)
		}
		rated, err := tx.Feedback.Query().Where(entfeedback.SaleID(sl.ID), entfeedback.CategoryEQ(in.Category), sameSubject).Exist(ctx)
		if err != nil {
			return nil, fmt.Errorf("loading feedback: %w", err)
		}
		if rated {
			return nil, &errs.Error{Code: errs.Conflict, Field: "category", Message: "the sale was rated for this already"}
		}
		fb, err := tx.Feedback.Create().
			SetSaleID(sl.ID).
			SetStoreID(sl.StoreID).
			SetNillableCustomerID(sl.CustomerID).
			SetNillableProductID(in.ProductID).
			SetRecordedByID(v.ID).
			SetRating(in.Rating).
			SetCategory(in.Category).
			SetComment(comment).
			Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("recording feedback: %w", err)
		}
		if fb.Rating <= LowRating {
			// Ids only: outbox rows are kept, and what the customer wrote
			// must go when they are erased. The consumer reads the row.
			err := outbox.Add(ctx, tx, fb.MerchantID, outbox.FeedbackLow, fb.ID, map[string]any{
				"feedbackId": fb.ID, "saleId": sl.ID, "storeId": sl.StoreID,
			})
			if err != nil {
				return nil, err
			}
		}
		return fb, nil
	})
}

// Summary is how a store or a product is rated.
type Summary struct {
	Count int
	// Average is nil without ratings.
	Average *float64
	// Distribution counts ratings of 1 to 5.
	Distribution []int
}

// StoreSummaries sums up all feedback on the sales of each of storeIDs,
// in one query.
func (s *Service) StoreSummaries(ctx context.Context, storeIDs []pulid.ID) (map[pulid.ID]*Summary, error) {
	return s.summaries(ctx, entfeedback.FieldStoreID, entfeedback.StoreIDIn(storeIDs...), storeIDs)
}

// ProductSummaries sums up product feedback about each of productIDs, in
// one query.
func (s *Service) ProductSummaries(ctx context.Context, productIDs []pulid.ID) (map[pulid.ID]*Summary, error) {
	return s.summaries(ctx, entfeedback.FieldProductID, entfeedback.ProductIDIn(productIDs...), productIDs)
}

// summaries counts the ratings of the feedback where selects, by the
// column by (store or product), giving each of ids a summary, empty
// without ratings.
func (s *Service) summaries(ctx context.Context, by string, where predicate.Feedback, ids []pulid.ID) (map[pulid.ID]*Summary, error) {
	var rows []struct {
		StoreID   *pulid.ID `json:"store_id"`
		ProductID *pulid.ID `json:"product_id"`
		Rating    int       `json:"rating"`
		Count     int       `json:"count"`
	}
	err := s.db.Feedback.Query().Where(where).
		GroupBy(by, entfeedback.FieldRating).
		Aggregate(ent.Count()).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("summing up feedback: %w", err)
	}
	out := make(map[pulid.ID]*Summary, len(ids))
	totals := map[pulid.ID]int{}
	for _, id := range ids {
		out[id] = &Summary{Distribution: make([]int, 5)}
	}
	for _, r := range rows {
		id := r.StoreID
		if by == entfeedback.FieldProductID {
			id = r.ProductID
		}
		sum := out[*id]
		sum.Distribution[r.Rating-1] = r.Count
		sum.Count += r.Count
		totals[*id] += r.Rating * r.Count
	}
	for id, sum := range out {
		if sum.Count > 0 {
			avg := float64(totals[id]) / float64(sum.Count)
			sum.Average = &avg
		}
	}
	return out, nil
}
