package sales

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/pan"
)

// TenderInput is one way a customer pays.
type TenderInput struct {
	Type   tender.Type `json:"type"`
	Amount int64       `json:"amount"`
	// Tendered is the cash handed over, for CASH; it defaults to Amount.
	Tendered  *int64           `json:"tendered,omitempty"`
	CardType  *tender.CardType `json:"cardType,omitempty"`
	CardBrand *string          `json:"cardBrand,omitempty"`
	CardLast4 *string          `json:"cardLast4,omitempty"`
	Wallet    *tender.Wallet   `json:"wallet,omitempty"`
	Reference *string          `json:"reference,omitempty"`
}

// checkTenders checks that tenders pay total exactly, each well formed,
// and returns the change due in cash. prefix is the input path of the
// list, for error fields. Whether the merchant accepts each type is a
// limit (saleLimits).
func checkTenders(tenders []TenderInput, total int64, prefix string) (change int64, err error) {
	if len(tenders) > maxTenders {
		return 0, errs.Invalid(prefix, "a sale has at most %d tenders", maxTenders)
	}
	var paid int64
	for i, t := range tenders {
		field := fmt.Sprintf("%s[%d]", prefix, i)
		if err := CheckTender(t, field); err != nil {
			return 0, err
		}
		paid += t.Amount
		if t.Type == tender.TypeCASH && t.Tendered != nil {
			change += *t.Tendered - t.Amount
		}
	}
	if paid != total {
		return 0, errs.Invalid(prefix, "the tenders pay %d but the sale comes to %d", paid, total)
	}
	return change, nil
}

// CheckTender checks that one tender is well formed, BAD_USER_INPUT naming
// the field under field (tenders[1].cardLast4) otherwise: a positive
// amount, the card, wallet and cash fields its type takes, and nothing
// that looks like a full card number. Other domains that take money the
// way sales do (stored value top-ups) check theirs with it.
func CheckTender(t TenderInput, field string) error {
	if t.Amount <= 0 || t.Amount > maxAmount {
		return errs.Invalid(field+".amount", "a tender's amount is between 1 and %d", int64(maxAmount))
	}
	for name, v := range map[string]*string{"cardBrand": t.CardBrand, "cardLast4": t.CardLast4, "reference": t.Reference} {
		if v != nil && pan.Contains(*v) {
			return errs.Invalid(field+"."+name, "this looks like a full card number: send only the last four digits and the processor's reference")
		}
	}
	if t.Type == tender.TypeEXCHANGE {
		return errs.Invalid(field+".type", "EXCHANGE credit comes only from exchangeSale")
	}
	if t.Tendered != nil && t.Type != tender.TypeCASH {
		return errs.Invalid(field+".tendered", "only cash is tendered")
	}
	cardFields := t.CardType != nil || t.CardBrand != nil || t.CardLast4 != nil
	switch t.Type {
	case tender.TypeCASH:
		if t.Tendered != nil && (*t.Tendered < t.Amount || *t.Tendered > maxAmount) {
			return errs.Invalid(field+".tendered", "cash tendered is at least the amount")
		}
		if cardFields || t.Wallet != nil || t.Reference != nil {
			return errs.Invalid(field, "a cash tender has no card, wallet or reference")
		}
	case tender.TypeCARD:
		if t.CardLast4 == nil || !isDigits(*t.CardLast4, 4) {
			return errs.Invalid(field+".cardLast4", "a card tender needs the card's last four digits")
		}
		if t.Wallet != nil {
			return errs.Invalid(field+".wallet", "a card tender has no wallet")
		}
	case tender.TypeMOBILE_WALLET:
		if t.Wallet == nil {
			return errs.Invalid(field+".wallet", "a mobile wallet tender names the wallet")
		}
		if cardFields {
			return errs.Invalid(field, "a mobile wallet tender has no card")
		}
	default: // STORED_VALUE, LOYALTY
		if cardFields || t.Wallet != nil {
			return errs.Invalid(field, "a %s tender has no card or wallet", t.Type)
		}
	}
	if t.CardBrand != nil && (len(*t.CardBrand) > 32 || strings.TrimSpace(*t.CardBrand) == "") {
		return errs.Invalid(field+".cardBrand", "a card brand is 1 to 32 characters")
	}
	if t.Reference != nil && (len(*t.Reference) > 128 || strings.TrimSpace(*t.Reference) == "") {
		return errs.Invalid(field+".reference", "a reference is 1 to 128 characters")
	}
	return nil
}

func accepts(accepted []string, t tender.Type) bool {
	for _, a := range accepted {
		if a == string(t) {
			return true
		}
	}
	return false
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// TenderField names t's amount in the sale's input, for the domains that
// pay balance tenders: tenders[i].amount, where i counts the tenders the
// terminal sent (written in that order, with ids that sort so), leaving
// out an exchange's credit.
func TenderField(ctx context.Context, tx *ent.Tx, sl *ent.Sale, t *ent.Tender) (string, error) {
	ids, err := tx.Tender.Query().
		Where(tender.SaleID(sl.ID), tender.TypeNEQ(tender.TypeEXCHANGE)).
		Order(ent.Asc(tender.FieldID)).
		IDs(ctx)
	if err != nil {
		return "", fmt.Errorf("loading the sale's tenders: %w", err)
	}
	return fmt.Sprintf("tenders[%d].amount", slices.Index(ids, t.ID)), nil
}
