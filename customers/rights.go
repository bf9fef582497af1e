package customers

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/rule"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/auditentry"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/customerstorevisits"
	"github.com/tillpos/till/ent/feedback"
	"github.com/tillpos/till/ent/receiptdelivery"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
)

// Merge folds duplicate into survivor: tags join, contact details and
// profile fields the survivor lacks are taken over, visit counts and spend
// add up, and the duplicate is left MERGED, pointing at the survivor (its
// member card then finds the survivor). OWNER or MANAGER; audited.
//
// Everything that refers to a customer moves with the merge (moveHistory,
// and the Merged hooks of the domains that keep more).
func (s *Service) Merge(ctx context.Context, survivorID, duplicateID pulid.ID) (*ent.Customer, error) {
	if _, err := staffViewer(ctx, managers...); err != nil {
		return nil, err
	}
	if survivorID == duplicateID {
		return nil, errs.Invalid("duplicateId", "a customer cannot be merged into itself")
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Customer, error) {
		// Both customers are locked before they are read, so a concurrent
		// merge of either waits and then finds it merged; the duplicate's
		// sales first, in the order a refund takes its locks (the sale,
		// then its customer), so a refund running meanwhile cannot deadlock
		// with the merge.
		if _, err := tx.Sale.Query().Where(sale.CustomerID(duplicateID)).Select(sale.FieldID).Modify(db.ForUpdate).Strings(ctx); err != nil {
			return nil, fmt.Errorf("locking the duplicate's sales: %w", err)
		}
		if err := lock(ctx, tx.Client(), survivorID, duplicateID); err != nil {
			return nil, err
		}
		survivor, err := get(ctx, tx.Client(), survivorID)
		if err != nil {
			return nil, err
		}
		dup, err := get(ctx, tx.Client(), duplicateID)
		if err != nil {
			return nil, err
		}
		for field, c := range map[string]*ent.Customer{"survivorId": survivor, "duplicateId": dup} {
			if c.Status == customer.StatusMERGED || c.Status == customer.StatusERASED {
				return nil, errs.Invalid(field, "a %s customer cannot be merged", c.Status)
			}
		}
		contact, err := s.open(dup)
		if err != nil {
			return nil, err
		}
		// The duplicate gives up its contact details first: they are unique
		// per merchant, and the survivor may be about to take them. Its
		// visits go to the survivor with its sales, so none count twice.
		retired, err := tx.Customer.UpdateOne(dup).
			SetStatus(customer.StatusMERGED).SetMergedIntoID(survivor.ID).
			ClearPhoneEnc().ClearPhoneIndex().ClearEmailEnc().ClearEmailIndex().ClearAddressEnc().SetPiiKeyID("").
			SetSearchText("").SetNameKey("").
			SetVisitsCount(0).SetTotalSpent(0).ClearFirstVisitAt().ClearLastVisitAt().ClearFavouriteStore().
			Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("retiring duplicate: %w", err)
		}
		if err := syncTrigrams(ctx, tx, retired); err != nil {
			return nil, err
		}
		upd := tx.Customer.UpdateOne(survivor)
		// Tags join; past the limit the survivor's own come first.
		tags := slices.Clone(survivor.Tags)
		for _, t := range dup.Tags {
			if len(tags) < maxTags && !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		p := Profile{Tags: tags}
		if survivor.PhoneEnc == nil && contact.Phone != nil {
			p.Phone = contact.Phone
		}
		if survivor.EmailEnc == nil && contact.Email != nil {
			p.Email = contact.Email
		}
		if survivor.AddressEnc == nil && contact.Address != nil {
			p.Address = contact.Address
		}
		if survivor.Birthday == nil {
			p.Birthday = dup.Birthday
		}
		if survivor.Gender == nil {
			p.Gender = dup.Gender
		}
		if survivor.Notes == "" && dup.Notes != "" {
			p.Notes = &dup.Notes
		}
		if err := s.apply(ctx, upd.Mutation(), survivor.ID, survivor.MerchantID, survivor, p); err != nil {
			return nil, err
		}
		mergeConsent(upd, survivor, dup)
		if err := s.reseal(upd.Mutation(), survivor); err != nil {
			return nil, err
		}
		if err := s.moveHistory(ctx, tx, survivor.MerchantID, dup.ID, survivor.ID); err != nil {
			return nil, err
		}
		next := *survivor
		addVisits(upd, &next, visitTotals{count: dup.VisitsCount, spent: dup.TotalSpent, first: dup.FirstVisitAt, last: dup.LastVisitAt})
		if err := settleDerived(ctx, tx, upd, &next, s.now()); err != nil {
			return nil, err
		}
		merged, err := upd.Save(ctx)
		if err != nil {
			return nil, conflict(err)
		}
		return merged, audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "customer.merged", TargetType: "Customer", TargetID: survivor.ID,
			Details: map[string]any{"duplicate": string(dup.ID)},
		})
	})
}

// mergeConsent keeps, per channel, the decision made last by either.
func mergeConsent(upd *ent.CustomerUpdateOne, survivor, dup *ent.Customer) {
	later := func(dupAt, survivorAt *time.Time) bool {
		return dupAt != nil && (survivorAt == nil || dupAt.After(*survivorAt))
	}
	if later(dup.PushConsentAt, survivor.PushConsentAt) {
		upd.SetPushConsent(dup.PushConsent).SetPushConsentAt(*dup.PushConsentAt)
	}
	if later(dup.SmsConsentAt, survivor.SmsConsentAt) {
		upd.SetSmsConsent(dup.SmsConsent).SetSmsConsentAt(*dup.SmsConsentAt)
	}
	if later(dup.EmailConsentAt, survivor.EmailConsentAt) {
		upd.SetEmailConsent(dup.EmailConsent).SetEmailConsentAt(*dup.EmailConsentAt)
	}
}

// moveHistory moves what refers to the duplicate over to the survivor: its
// per-store visit counts and months, its sales and its feedback, and what other
// domains keep (Hooks.Merged).
func (s *Service) moveHistory(ctx context.Context, tx *ent.Tx, merchantID, from, to pulid.ID) error {
	visits, err := tx.CustomerStoreVisits.Query().Where(customerstorevisits.CustomerID(from)).All(ctx)
	if err != nil {
		return fmt.Errorf("loading store visits: %w", err)
	}
	for _, v := range visits {
		if err := addStoreVisits(ctx, tx, merchantID, to, v.StoreID, v.Visits); err != nil {
			return err
		}
	}
	if _, err := tx.CustomerStoreVisits.Delete().Where(customerstorevisits.CustomerID(from)).Exec(ctx); err != nil {
		return fmt.Errorf("deleting store visits: %w", err)
	}
	if err := moveMonths(ctx, tx, merchantID, from, to); err != nil {
		return err
	}
	if _, err := tx.Sale.Update().Where(sale.CustomerID(from)).SetCustomerID(to).Save(ctx); err != nil {
		return fmt.Errorf("moving sales: %w", err)
	}
	if _, err := tx.Feedback.Update().Where(feedback.CustomerID(from)).SetCustomerID(to).Save(ctx); err != nil {
		return fmt.Errorf("moving feedback: %w", err)
	}
	for _, merged := range s.hooks.Merged {
		if err := merged(ctx, tx, merchantID, from, to); err != nil {
			return err
		}
	}
	return nil
}

// Export returns everything held about one customer, decrypted, as a
// JSON-ready document: profile, contact, consent, aggregates, visits per
// store, sales, feedback and the audit trail about them, and the same of
// each duplicate merged into them (the same person, as Erase treats
// them). OWNER or MANAGER; audited.
func (s *Service) Export(ctx context.Context, id pulid.ID) (map[string]any, error) {
	if _, err := staffViewer(ctx, managers...); err != nil {
		return nil, err
	}
	c, err := get(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	doc, err := s.exportRow(ctx, c)
	if err != nil {
		return nil, err
	}
	ids, err := mergedInto(ctx, s.db, c.ID)
	if err != nil {
		return nil, err
	}
	dups, err := s.db.Customer.Query().Where(customer.IDIn(ids...)).Order(ent.Asc(customer.FieldCreatedAt), ent.Asc(customer.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading merged duplicates: %w", err)
	}
	dupDocs := make([]map[string]any, 0, len(dups))
	for _, dup := range dups {
		dupDoc, err := s.exportRow(ctx, dup)
		if err != nil {
			return nil, err
		}
		dupDocs = append(dupDocs, dupDoc)
	}
	doc["mergedDuplicates"] = dupDocs
	return doc, audit.Record(ctx, s.db, audit.Entry{Action: "customer.exported", TargetType: "Customer", TargetID: c.ID})
}

// exportRow is what one customer row and what refers to it hold (see
// Export).
func (s *Service) exportRow(ctx context.Context, c *ent.Customer) (map[string]any, error) {
	contact, err := s.open(c)
	if err != nil {
		return nil, err
	}
	visits, err := c.QueryStoreVisits().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading store visits: %w", err)
	}
	trail, err := s.db.AuditEntry.Query().
		Where(auditentry.TargetType("Customer"), auditentry.TargetID(string(c.ID))).
		Order(ent.Asc(auditentry.FieldCreatedAt)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading audit trail: %w", err)
	}
	// Every store's: staff otherwise see only their stores' sales.
	sales, err := c.QuerySales().Order(ent.Asc(sale.FieldOccurredAt)).All(rule.AllStores(ctx))
	if err != nil {
		return nil, fmt.Errorf("loading sales: %w", err)
	}
	feedbacks, err := s.db.Feedback.Query().Where(feedback.CustomerID(c.ID)).Order(ent.Asc(feedback.FieldCreatedAt)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading feedback: %w", err)
	}
	saleDocs := make([]map[string]any, 0, len(sales))
	for _, sl := range sales {
		saleDocs = append(saleDocs, map[string]any{
			"id": sl.ID, "store": sl.StoreID, "receiptNumber": sl.ReceiptNumber, "occurredAt": sl.OccurredAt,
			"total": sl.Total, "refunded": sl.RefundedTotal, "currency": sl.Currency, "status": sl.Status,
		})
	}
	feedbackDocs := make([]map[string]any, 0, len(feedbacks))
	for _, f := range feedbacks {
		feedbackDocs = append(feedbackDocs, map[string]any{
			"sale": f.SaleID, "product": f.ProductID, "rating": f.Rating, "category": f.Category, "comment": f.Comment, "at": f.CreatedAt,
		})
	}
	perStore := make([]map[string]any, 0, len(visits))
	for _, v := range visits {
		perStore = append(perStore, map[string]any{"store": v.StoreID, "visits": v.Visits})
	}
	events := make([]map[string]any, 0, len(trail))
	for _, e := range trail {
		events = append(events, map[string]any{"action": e.Action, "at": e.CreatedAt, "actor": e.ActorID})
	}
	doc := map[string]any{
		"id": c.ID, "status": c.Status, "name": c.Name, "memberCode": c.MemberCode,
		"phone": contact.Phone, "email": contact.Email, "address": contact.Address,
		"birthday": c.Birthday, "gender": c.Gender, "notes": c.Notes, "tags": c.Tags,
		"registeredAt": c.CreatedAt, "updatedAt": c.UpdatedAt, "mergedInto": c.MergedIntoID,
		"consent": map[string]any{
			"push":  map[string]any{"granted": c.PushConsent, "at": c.PushConsentAt},
			"sms":   map[string]any{"granted": c.SmsConsent, "at": c.SmsConsentAt},
			"email": map[string]any{"granted": c.EmailConsent, "at": c.EmailConsentAt},
		},
		"visits": map[string]any{
			"count": c.VisitsCount, "totalSpent": c.TotalSpent,
			"first": c.FirstVisitAt, "last": c.LastVisitAt, "perStore": perStore,
		},
		"sales":      saleDocs,
		"feedback":   feedbackDocs,
		"auditTrail": events,
	}
	for name, export := range s.hooks.Exported {
		section, err := export(ctx, s.db, c.ID)
		if err != nil {
			return nil, fmt.Errorf("exporting %s: %w", name, err)
		}
		doc[name] = section
	}
	return doc, nil
}

// eraseRow clears everything that could identify a person from a row.
func eraseRow(upd *ent.CustomerUpdateOne) *ent.CustomerUpdateOne {
	id, _ := upd.Mutation().ID()
	return upd.
		SetName("Erased customer").SetSearchText("").SetNameKey("").
		ClearPhoneEnc().ClearPhoneIndex().ClearEmailEnc().ClearEmailIndex().ClearAddressEnc().SetPiiKeyID("").
		ClearBirthday().ClearGender().SetNotes("").ClearTags().
		SetMemberCode("x-" + string(id)[len("cus_"):]).
		SetPushConsent(false).ClearPushConsentAt().
		SetSmsConsent(false).ClearSmsConsentAt().
		SetEmailConsent(false).ClearEmailConsentAt().
		ClearCreatedBy().
		SetStatus(customer.StatusERASED)
}

// mergedInto lists the customers merged into id, directly or through
// other merges.
func mergedInto(ctx context.Context, client *ent.Client, id pulid.ID) ([]pulid.ID, error) {
	var all []pulid.ID
	for frontier := []pulid.ID{id}; len(frontier) > 0; {
		next, err := client.Customer.Query().Where(customer.MergedIntoIDIn(frontier...)).IDs(ctx)
		if err != nil {
			return nil, fmt.Errorf("finding merged duplicates: %w", err)
		}
		all, frontier = append(all, next...), next
	}
	return all, nil
}

// Erase removes a customer's personal data and consent for good, and the
// comments they left as feedback, keeping an anonymous record (its visit
// counts and months, sales and ratings) so the books and the cohorts still
// add up.
// OWNER or MANAGER; audited.
func (s *Service) Erase(ctx context.Context, id pulid.ID) (*ent.Customer, error) {
	return s.change(ctx, id, managers, "customer.erased", func(tx *ent.Tx, c *ent.Customer) (*ent.Customer, error) {
		if c.Status == customer.StatusERASED {
			return nil, errUnchanged
		}
		// The person's merged duplicates hold what the merge did not take
		// over (a name, a card, notes); they go too.
		ids, err := mergedInto(ctx, tx.Client(), c.ID)
		if err != nil {
			return nil, err
		}
		for _, dupID := range ids {
			if err := eraseRow(tx.Customer.UpdateOneID(dupID)).Exec(ctx); err != nil {
				return nil, fmt.Errorf("erasing merged duplicate: %w", err)
			}
		}
		people := append(ids, c.ID)
		if _, err := tx.Feedback.Update().Where(feedback.CustomerIDIn(people...)).SetComment("").Save(ctx); err != nil {
			return nil, fmt.Errorf("erasing feedback comments: %w", err)
		}
		// Where their receipts were sent is theirs too; a queued one is
		// then not sent.
		if _, err := tx.ReceiptDelivery.Delete().Where(receiptdelivery.HasSaleWith(sale.CustomerIDIn(people...))).Exec(ctx); err != nil {
			return nil, fmt.Errorf("erasing receipt deliveries: %w", err)
		}
		return eraseRow(tx.Customer.UpdateOne(c)).Save(ctx)
	})
}
