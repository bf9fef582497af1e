package campaigns

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/campaign"
	"github.com/tillpos/till/ent/campaignmessage"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/predicate"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/outbox"
)

// Topic is the outbox topic of a queued message; Deliver handles it.
const Topic = "campaign.message"

const (
	// pageSize is how many customers one fan-out transaction decides.
	pageSize = 200
	// dueBatch is how many due campaigns one Dispatch takes on.
	dueBatch = 50
	// staleClaim is how long a dispatcher's claim holds without progress
	// before another takes the campaign over (the replica died mid-way).
	staleClaim = 10 * time.Minute
	// undeliveredAfter a campaign's fan-out, a message still queued is
	// given up as FAILED, so that the campaign can finish when the outbox
	// gave up on it.
	undeliveredAfter = 48 * time.Hour
)

// errClaimLost stops a fan-out whose claim another dispatcher took over.
var errClaimLost = errors.New("campaign claimed by another dispatcher")

// Dispatch sends every due campaign: SCHEDULED ones whose time has come
// (or that were sent now) and ones a dispatcher left half done. It runs
// every minute as a job; a campaign is claimed by a conditional update of
// its status, so of replicas running it at once one fans each out. Then it
// gives up on messages the outbox never delivered.
func (s *Service) Dispatch(ctx context.Context) error {
	ctx = viewer.NewSystemContext(ctx, "campaign-dispatch")
	now := s.now()
	ids, err := s.db.Campaign.Query().Where(due(now)).
		Order(ent.Asc(campaign.FieldScheduledAt), ent.Asc(campaign.FieldID)).
		Limit(dueBatch).IDs(ctx)
	if err != nil {
		return fmt.Errorf("finding due campaigns: %w", err)
	}
	var errs []error
	for _, id := range ids {
		n, err := s.db.Campaign.Update().Where(campaign.ID(id), due(now)).
			SetStatus(campaign.StatusSENDING).SetDispatchedAt(now).Save(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("claiming campaign %s: %w", id, err))
			continue
		}
		if n == 0 {
			continue // another replica claimed it first
		}
		if err := s.fanOut(ctx, id, now); err != nil && !errors.Is(err, errClaimLost) {
			errs = append(errs, fmt.Errorf("sending campaign %s: %w", id, err))
		}
	}
	if err := s.giveUp(ctx, now); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// due selects campaigns a dispatcher should take on at now.
func due(now time.Time) predicate.Campaign {
	return campaign.Or(
		campaign.And(campaign.StatusEQ(campaign.StatusSCHEDULED),
			campaign.Or(campaign.ScheduledAtIsNil(), campaign.ScheduledAtLTE(now))),
		campaign.And(campaign.StatusEQ(campaign.StatusSENDING), campaign.FannedOutAtIsNil(),
			campaign.DispatchedAtLT(now.Add(-staleClaim))),
	)
}

// fanOut writes a message row for each customer of the campaign's
// audience, page by page in customer id order, each page in a
// transaction with the outbox events of the messages it queues. A page
// first renews the claim (dispatched_at, as claimed) and stops if another
// dispatcher took it over; customers who already have a row (a fan-out
// taken over) are passed by, so a repeat never sends twice.
func (s *Service) fanOut(ctx context.Context, id pulid.ID, claim time.Time) error {
	c, err := s.db.Campaign.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("loading campaign: %w", err)
	}
	st, err := settings(ctx, s.db, c.MerchantID)
	if err != nil {
		return err
	}
	audience, err := s.audience(ctx, c.MerchantID, targetOf(c))
	if err != nil {
		return err
	}
	after := pulid.ID("")
	for {
		page, err := audience.Clone().Where(customer.IDGT(after)).
			Order(ent.Asc(customer.FieldID)).Limit(pageSize).All(ctx)
		if err != nil {
			return fmt.Errorf("reading audience: %w", err)
		}
		if len(page) == 0 {
			break
		}
		now := s.now()
		err = db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
			if err := renew(ctx, tx, id, &claim, now); err != nil {
				return err
			}
			return s.decide(ctx, tx, c, st, page, now)
		})
		if err != nil {
			return err
		}
		after = page[len(page)-1].ID
	}
	return db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		now := s.now()
		if err := renew(ctx, tx, id, &claim, now); err != nil {
			return err
		}
		n, err := tx.CampaignMessage.Query().Where(campaignmessage.CampaignID(id)).Count(ctx)
		if err != nil {
			return fmt.Errorf("counting campaign messages: %w", err)
		}
		if err := tx.Campaign.UpdateOneID(id).SetFannedOutAt(now).SetAudienceCount(n).Exec(ctx); err != nil {
			return fmt.Errorf("finishing fan-out: %w", err)
		}
		return s.finish(ctx, tx.Client(), id)
	})
}

// renew moves the claim on a campaign from *claim to now, or returns
// errClaimLost when it is no longer *claim.
func renew(ctx context.Context, tx *ent.Tx, id pulid.ID, claim *time.Time, now time.Time) error {
	n, err := tx.Campaign.Update().
		Where(campaign.ID(id), campaign.StatusEQ(campaign.StatusSENDING), campaign.DispatchedAt(*claim)).
		SetDispatchedAt(now).Save(ctx)
	if err != nil {
		return fmt.Errorf("renewing campaign claim: %w", err)
	}
	if n == 0 {
		return errClaimLost
	}
	*claim = now
	return nil
}

// decide writes the message rows of one page of the audience, and an
// outbox event for each one queued. Consent and the contact detail are
// checked as they are now (and consent again at delivery); the frequency
// cap counts the customer's campaign messages queued or sent within the
// merchant's window.
func (s *Service) decide(ctx context.Context, tx *ent.Tx, c *ent.Campaign, st *ent.CampaignSettings, page []*ent.Customer, now time.Time) error {
	ids := make([]pulid.ID, len(page))
	for i, cu := range page {
		ids[i] = cu.ID
	}
	done, err := tx.CampaignMessage.Query().
		Where(campaignmessage.CampaignID(c.ID), campaignmessage.CustomerIDIn(ids...)).
		Select(campaignmessage.FieldCustomerID).Strings(ctx)
	if err != nil {
		return fmt.Errorf("reading campaign messages: %w", err)
	}
	had := map[pulid.ID]bool{}
	for _, id := range done {
		had[pulid.ID(id)] = true
	}
	var recent []struct {
		CustomerID pulid.ID `json:"customer_id"`
		Count      int      `json:"count"`
	}
	err = tx.CampaignMessage.Query().
		Where(campaignmessage.MerchantID(c.MerchantID), campaignmessage.CustomerIDIn(ids...),
			campaignmessage.StatusIn(campaignmessage.StatusQUEUED, campaignmessage.StatusSENT),
			campaignmessage.CreatedAtGT(now.Add(-time.Duration(st.FrequencyWindowDays)*24*time.Hour))).
		GroupBy(campaignmessage.FieldCustomerID).Aggregate(ent.Count()).Scan(ctx, &recent)
	if err != nil {
		return fmt.Errorf("counting recent campaign messages: %w", err)
	}
	sent := map[pulid.ID]int{}
	for _, r := range recent {
		sent[r.CustomerID] = r.Count
	}
	var rows []*ent.CampaignMessageCreate
	var queued []pulid.ID
	for _, cu := range page {
		if had[cu.ID] {
			continue
		}
		status := decision(c.Channel, cu, sent[cu.ID], st.FrequencyCap)
		id := pulid.New("cmm")
		rows = append(rows, tx.CampaignMessage.Create().SetID(id).SetMerchantID(c.MerchantID).
			SetCampaignID(c.ID).SetCustomerID(cu.ID).SetStatus(status).SetCreatedAt(now).SetUpdatedAt(now))
		if status == campaignmessage.StatusQUEUED {
			queued = append(queued, id)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if err := tx.CampaignMessage.CreateBulk(rows...).Exec(ctx); err != nil {
		return fmt.Errorf("writing campaign messages: %w", err)
	}
	for _, id := range queued {
		if err := outbox.Add(ctx, tx, c.MerchantID, Topic, id, map[string]any{"campaignId": string(c.ID)}); err != nil {
			return err
		}
	}
	return nil
}

// decision is what becomes of a campaign over ch for cu, who has had
// recent campaign messages within the window of a cap: consent first (a
// customer who said no is not asked about), then a contact detail, then
// the cap.
func decision(ch campaign.Channel, cu *ent.Customer, recent, limit int) campaignmessage.Status {
	consent, contact := cu.EmailConsent, cu.EmailEnc
	if ch == campaign.ChannelSMS {
		consent, contact = cu.SmsConsent, cu.PhoneEnc
	}
	switch {
	case !consent:
		return campaignmessage.StatusSKIPPED_NO_CONSENT
	case contact == nil:
		return campaignmessage.StatusSKIPPED_NO_CONTACT
	case recent >= limit:
		return campaignmessage.StatusSKIPPED_FREQUENCY_CAP
	}
	return campaignmessage.StatusQUEUED
}

// finish marks a campaign SENT once it is fanned out and none of its
// messages waits: whichever of the fan-out and the last delivery commits
// second sees both and finishes it.
func (s *Service) finish(ctx context.Context, client *ent.Client, id pulid.ID) error {
	err := client.Campaign.Update().
		Where(campaign.ID(id), campaign.StatusEQ(campaign.StatusSENDING), campaign.FannedOutAtNotNil(),
			campaign.Not(campaign.HasMessagesWith(campaignmessage.StatusEQ(campaignmessage.StatusQUEUED)))).
		SetStatus(campaign.StatusSENT).SetSentAt(s.now()).Exec(ctx)
	if err != nil {
		return fmt.Errorf("finishing campaign: %w", err)
	}
	return nil
}

// giveUp fails the messages of campaigns fanned out longer than
// undeliveredAfter ago that are still queued (the outbox dead-lettered
// their events), and finishes those campaigns.
func (s *Service) giveUp(ctx context.Context, now time.Time) error {
	ids, err := s.db.Campaign.Query().
		Where(campaign.StatusEQ(campaign.StatusSENDING), campaign.FannedOutAtLT(now.Add(-undeliveredAfter))).
		IDs(ctx)
	if err != nil {
		return fmt.Errorf("finding undelivered campaigns: %w", err)
	}
	for _, id := range ids {
		err := db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
			err := tx.CampaignMessage.Update().
				Where(campaignmessage.CampaignID(id), campaignmessage.StatusEQ(campaignmessage.StatusQUEUED)).
				SetStatus(campaignmessage.StatusFAILED).SetLastError("not delivered within 48 hours").ClearLeaseUntil().Exec(ctx)
			if err != nil {
				return fmt.Errorf("failing undelivered campaign messages: %w", err)
			}
			return s.finish(ctx, tx.Client(), id)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
