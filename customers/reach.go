package customers

import (
	"context"
	"fmt"

	"golang.org/x/text/language"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/merchant"
	"github.com/tillpos/till/ent/predicate"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/pii"
)

// SegmentMembers queries the active customers a saved segment holds now,
// for a campaign to the segment. The caller adds the merchant when it
// runs as the system.
func SegmentMembers(client *ent.Client, seg *ent.SavedSegment) *ent.CustomerQuery {
	return members(client, seg)
}

// merchantBatch is how many merchants one ByPhoneEverywhere query covers.
const merchantBatch = 200

// ByPhoneEverywhere finds the customers of every merchant with phone, for
// a system job (an SMS opt-out, which names a number and no merchant). The
// blind index is keyed by merchant, so the number is indexed once per
// merchant, as written in that merchant's region when it has no country
// code; merged and erased customers are left out.
func (s *Service) ByPhoneEverywhere(ctx context.Context, phone string) ([]*ent.Customer, error) {
	if !viewer.FromContext(ctx).IsSystem() {
		return nil, fmt.Errorf("looking up a phone everywhere: a system job only")
	}
	var out []*ent.Customer
	after := pulid.ID("")
	for {
		ms, err := s.db.Merchant.Query().Where(merchant.IDGT(after)).
			Order(ent.Asc(merchant.FieldID)).Limit(merchantBatch).
			Select(merchant.FieldID, merchant.FieldLocale).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading merchants: %w", err)
		}
		if len(ms) == 0 {
			return out, nil
		}
		var where []predicate.Customer
		for _, m := range ms {
			region := "US"
			if tag, err := language.Parse(m.Locale); err == nil {
				r, _ := tag.Region()
				region = r.String()
			}
			e164, err := pii.NormalizePhone(phone, region)
			if err != nil {
				continue
			}
			where = append(where, customer.And(customer.MerchantID(m.ID),
				customer.PhoneIndex(s.box.Index(string(m.ID), fieldPhone, e164))))
		}
		if len(where) > 0 {
			found, err := s.db.Customer.Query().
				Where(customer.Or(where...), customer.StatusIn(customer.StatusACTIVE, customer.StatusARCHIVED)).All(ctx)
			if err != nil {
				return nil, fmt.Errorf("looking up phone: %w", err)
			}
			out = append(out, found...)
		}
		after = ms[len(ms)-1].ID
	}
}
