package customers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/predicate"
	"github.com/tillpos/till/ent/savedsegment"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
)

// SegmentFilter defines a saved segment: every filter given applies.
type SegmentFilter struct {
	Name            string
	AnyTags         []string
	MinSpent        *int64
	MaxSpent        *int64
	LastVisitAfter  *time.Time
	LastVisitBefore *time.Time
	BirthdayMonth   *int
	Segment         *customer.Segment
}

// CreateSavedSegment saves a named customer filter. OWNER or MANAGER.
func (s *Service) CreateSavedSegment(ctx context.Context, f SegmentFilter) (*ent.SavedSegment, error) {
	if _, err := staffViewer(ctx, managers...); err != nil {
		return nil, err
	}
	name := strings.TrimSpace(f.Name)
	if name == "" || len([]rune(name)) > 100 {
		return nil, errs.Invalid("name", "must be 1 to 100 characters")
	}
	tags, err := cleanTags(f.AnyTags)
	if err != nil {
		return nil, errs.Invalid("anyTags", "%s", strings.TrimPrefix(err.Error(), "tags: "))
	}
	switch {
	case f.MinSpent != nil && f.MaxSpent != nil && *f.MinSpent > *f.MaxSpent:
		return nil, errs.Invalid("maxSpent", "must not be below minSpent")
	case f.LastVisitAfter != nil && f.LastVisitBefore != nil && !f.LastVisitAfter.Before(*f.LastVisitBefore):
		return nil, errs.Invalid("lastVisitBefore", "must be after lastVisitAfter")
	case f.BirthdayMonth != nil && (*f.BirthdayMonth < 1 || *f.BirthdayMonth > 12):
		return nil, errs.Invalid("birthdayMonth", "must be 1 to 12")
	}
	create := s.db.SavedSegment.Create().SetName(name).SetAnyTags(tags).
		SetNillableMinSpent(f.MinSpent).SetNillableMaxSpent(f.MaxSpent).
		SetNillableLastVisitAfter(f.LastVisitAfter).SetNillableLastVisitBefore(f.LastVisitBefore).
		SetNillableBirthdayMonth(f.BirthdayMonth)
	if f.Segment != nil {
		create.SetSegment(savedsegment.Segment(*f.Segment))
	}
	seg, err := create.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("saving segment: %w", err)
	}
	return seg, audit.Record(ctx, s.db, audit.Entry{Action: "customers.segment_saved", TargetType: "SavedSegment", TargetID: seg.ID})
}

// DeleteSavedSegment removes a saved segment. OWNER or MANAGER.
func (s *Service) DeleteSavedSegment(ctx context.Context, id pulid.ID) error {
	if _, err := staffViewer(ctx, managers...); err != nil {
		return err
	}
	n, err := s.db.SavedSegment.Delete().Where(savedsegment.ID(id)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("deleting segment: %w", err)
	}
	if n == 0 {
		return errs.Newf(errs.NotFound, "saved segment not found")
	}
	return audit.Record(ctx, s.db, audit.Entry{Action: "customers.segment_deleted", TargetType: "SavedSegment", TargetID: id})
}

// SavedSegmentCustomers lists the active customers a saved segment holds
// now, ordered by name.
func (s *Service) SavedSegmentCustomers(ctx context.Context, seg *ent.SavedSegment, after *entgql.Cursor[pulid.ID], first *int) (*ent.CustomerConnection, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	return pageByName(ctx, members(s.db, seg), after, first)
}

// InSavedSegment reports whether a customer is in a saved segment now:
// what an offer for the segment's members checks at the counter. client
// may be a transaction's.
func InSavedSegment(ctx context.Context, client *ent.Client, seg *ent.SavedSegment, customerID pulid.ID) (bool, error) {
	in, err := members(client, seg).Where(customer.ID(customerID)).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("checking saved segment membership: %w", err)
	}
	return in, nil
}

// members queries the active customers a saved segment holds now.
func members(client *ent.Client, seg *ent.SavedSegment) *ent.CustomerQuery {
	q := client.Customer.Query().Where(customer.StatusEQ(customer.StatusACTIVE))
	if len(seg.AnyTags) > 0 {
		anyTag := make([]predicate.Customer, 0, len(seg.AnyTags))
		for _, tag := range seg.AnyTags {
			anyTag = append(anyTag, func(s *sql.Selector) {
				s.Where(sqljson.ValueContains(customer.FieldTags, tag))
			})
		}
		q.Where(customer.Or(anyTag...))
	}
	if seg.MinSpent != nil {
		q.Where(customer.TotalSpentGTE(*seg.MinSpent))
	}
	if seg.MaxSpent != nil {
		q.Where(customer.TotalSpentLTE(*seg.MaxSpent))
	}
	if seg.LastVisitAfter != nil {
		q.Where(customer.LastVisitAtGT(*seg.LastVisitAfter))
	}
	if seg.LastVisitBefore != nil {
		q.Where(customer.LastVisitAtLT(*seg.LastVisitBefore))
	}
	if seg.BirthdayMonth != nil {
		pattern := fmt.Sprintf("____-%02d-__", *seg.BirthdayMonth)
		q.Where(func(s *sql.Selector) { s.Where(sql.Like(s.C(customer.FieldBirthday), pattern)) })
	}
	if seg.Segment != nil {
		q.Where(customer.SegmentEQ(customer.Segment(*seg.Segment)))
	}
	return q
}
