package customers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/pii"
)

// Create registers a customer at storeID (optional) as the caller.
//
// Errors: BAD_USER_INPUT (naming the field), CONFLICT (phone, email or
// member code already on another customer), NOT_FOUND (store).
func (s *Service) Create(ctx context.Context, storeID *pulid.ID, p Profile) (*ent.Customer, error) {
	v, err := staffViewer(ctx)
	if err != nil {
		return nil, err
	}
	if p.Name == nil {
		return nil, errs.Invalid("name", "is required")
	}
	if p.MemberCode == nil || strings.TrimSpace(*p.MemberCode) == "" {
		code := newMemberCode()
		p.MemberCode = &code
	}
	id := pulid.New("cus")
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Customer, error) {
		create := tx.Customer.Create().SetID(id).SetCreatedByID(v.ID)
		if storeID != nil {
			if _, err := tx.Store.Get(ctx, *storeID); ent.IsNotFound(err) {
				return nil, &errs.Error{Code: errs.NotFound, Field: "storeId", Message: "store not found"}
			} else if err != nil {
				return nil, fmt.Errorf("loading store: %w", err)
			}
			create.SetStoreID(*storeID)
		}
		if err := s.apply(ctx, create.Mutation(), id, v.MerchantID, nil, p); err != nil {
			return nil, err
		}
		c, err := create.Save(ctx)
		if err != nil {
			return nil, conflict(err)
		}
		if err := syncTrigrams(ctx, tx, c); err != nil {
			return nil, err
		}
		return c, audit.Record(ctx, tx.Client(), audit.Entry{Action: "customer.created", TargetType: "Customer", TargetID: c.ID})
	})
}

// Update changes a customer's profile; personal data is sealed afresh under
// the active key, so keys rotate lazily as customers are edited.
func (s *Service) Update(ctx context.Context, id pulid.ID, p Profile) (*ent.Customer, error) {
	return s.change(ctx, id, nil, "customer.updated", func(tx *ent.Tx, c *ent.Customer) (*ent.Customer, error) {
		if c.Status == customer.StatusMERGED || c.Status == customer.StatusERASED {
			return nil, errs.Invalid("customerId", "a %s customer cannot change", strings.ToLower(string(c.Status)))
		}
		upd := tx.Customer.UpdateOne(c)
		if err := s.apply(ctx, upd.Mutation(), id, c.MerchantID, c, p); err != nil {
			return nil, err
		}
		if err := s.reseal(upd.Mutation(), c); err != nil {
			return nil, err
		}
		c, err := upd.Save(ctx)
		return c, conflict(err)
	})
}

// Archive hides a customer from lists; lookups still find them. OWNER or
// MANAGER.
func (s *Service) Archive(ctx context.Context, id pulid.ID) (*ent.Customer, error) {
	return s.change(ctx, id, managers, "customer.archived", func(tx *ent.Tx, c *ent.Customer) (*ent.Customer, error) {
		if c.Status != customer.StatusACTIVE {
			return nil, errs.Invalid("customerId", "only an active customer can be archived")
		}
		return tx.Customer.UpdateOne(c).SetStatus(customer.StatusARCHIVED).Save(ctx)
	})
}

// managers are the roles that archive, merge, export and erase customers.
var managers = []viewer.Role{viewer.RoleOwner, viewer.RoleManager}

// errUnchanged is what an edit returns to leave the customer as it is,
// unaudited (an erasure repeated).
var errUnchanged = errors.New("customer unchanged")

// change loads a customer of the caller's merchant (the caller in one of
// roles, or any staff when roles is nil), applies edit and audits action,
// in one transaction.
func (s *Service) change(ctx context.Context, id pulid.ID, roles []viewer.Role, action string,
	edit func(tx *ent.Tx, c *ent.Customer) (*ent.Customer, error),
) (*ent.Customer, error) {
	if _, err := staffViewer(ctx, roles...); err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Customer, error) {
		// Locked before it is read: an edit writes fields derived from the
		// row as it was (search text, resealed details), and must not
		// revive a customer erased or merged meanwhile.
		if err := lock(ctx, tx.Client(), id); err != nil {
			return nil, err
		}
		c, err := get(ctx, tx.Client(), id)
		if err != nil {
			return nil, err
		}
		edited, err := edit(tx, c)
		if errors.Is(err, errUnchanged) {
			return c, nil
		}
		if err != nil {
			return nil, err
		}
		if edited.NameKey != c.NameKey {
			if err := syncTrigrams(ctx, tx, edited); err != nil {
				return nil, err
			}
		}
		return edited, audit.Record(ctx, tx.Client(), audit.Entry{Action: action, TargetType: "Customer", TargetID: edited.ID})
	})
}

// apply validates p and sets it on m. old is the customer being updated
// (nil on create), for the fields search text is made of.
func (s *Service) apply(ctx context.Context, m *ent.CustomerMutation, id, merchantID pulid.ID, old *ent.Customer, p Profile) error {
	name, tags := "", []string(nil)
	if old != nil {
		name, tags = old.Name, old.Tags
	}
	if p.Name != nil {
		name = strings.TrimSpace(*p.Name)
		if name == "" || len([]rune(name)) > 200 {
			return errs.Invalid("name", "must be 1 to 200 characters")
		}
		m.SetName(name)
	}
	if p.Tags != nil {
		var err error
		if tags, err = cleanTags(p.Tags); err != nil {
			return err
		}
		m.SetTags(tags)
	}
	m.SetNameKey(nameKey(name))
	m.SetSearchText(searchText(name, tags))
	if p.Phone != nil {
		if err := s.setPhone(ctx, m, id, merchantID, *p.Phone); err != nil {
			return err
		}
	}
	if p.Email != nil {
		if err := s.setEmail(m, id, merchantID, *p.Email); err != nil {
			return err
		}
	}
	if p.Address != nil {
		if address := strings.TrimSpace(*p.Address); address == "" {
			m.ClearAddressEnc()
		} else if len([]rune(address)) > 500 {
			return errs.Invalid("address", "must be at most 500 characters")
		} else {
			m.SetAddressEnc(s.box.Seal(address, sealContext(id, fieldAddress)))
			m.SetPiiKeyID(s.box.ActiveKeyID())
		}
	}
	if p.Birthday != nil {
		if b := strings.TrimSpace(*p.Birthday); b == "" {
			m.ClearBirthday()
		} else if t, err := time.Parse(time.DateOnly, b); err != nil || t.After(s.now()) {
			return errs.Invalid("birthday", "must be a past date as YYYY-MM-DD")
		} else {
			m.SetBirthday(b)
		}
	}
	switch {
	case p.ClearGender:
		m.ClearGender()
	case p.Gender != nil:
		m.SetGender(*p.Gender)
	}
	if p.Notes != nil {
		notes := strings.TrimSpace(*p.Notes)
		if len([]rune(notes)) > 2000 {
			return errs.Invalid("notes", "must be at most 2000 characters")
		}
		m.SetNotes(notes)
	}
	if p.MemberCode != nil {
		code := strings.TrimSpace(*p.MemberCode)
		if code == "" || len(code) > 32 || strings.ContainsAny(code, " \t\r\n") {
			return errs.Invalid("memberCode", "must be 1 to 32 characters without spaces")
		}
		m.SetMemberCode(code)
	}
	s.applyConsent(m, old, p.Consent)
	return nil
}

// phoneKey normalises a phone as written at a merchant and returns it
// with its blind index.
func (s *Service) phoneKey(ctx context.Context, merchantID pulid.ID, raw string) (phone, index string, err error) {
	region, err := s.region(ctx, merchantID)
	if err != nil {
		return "", "", err
	}
	if phone, err = pii.NormalizePhone(raw, region); err != nil {
		return "", "", errs.Invalid("phone", "%s", err.Error())
	}
	index, _ = Phone.Index(s.box, merchantID, phone)
	return phone, index, nil
}

// emailKey normalises an email and returns it with its blind index at a
// merchant.
func (s *Service) emailKey(merchantID pulid.ID, raw string) (email, index string, err error) {
	if email, err = pii.NormalizeEmail(raw); err != nil {
		return "", "", errs.Invalid("email", "%s", err.Error())
	}
	index, _ = Email.Index(s.box, merchantID, email)
	return email, index, nil
}

func (s *Service) setPhone(ctx context.Context, m *ent.CustomerMutation, id, merchantID pulid.ID, raw string) error {
	if strings.TrimSpace(raw) == "" {
		m.ClearPhoneEnc()
		m.ClearPhoneIndex()
		return nil
	}
	phone, index, err := s.phoneKey(ctx, merchantID, raw)
	if err != nil {
		return err
	}
	m.SetPhoneEnc(s.box.Seal(phone, sealContext(id, fieldPhone)))
	m.SetPhoneIndex(index)
	m.SetPiiKeyID(s.box.ActiveKeyID())
	return nil
}

func (s *Service) setEmail(m *ent.CustomerMutation, id, merchantID pulid.ID, raw string) error {
	if strings.TrimSpace(raw) == "" {
		m.ClearEmailEnc()
		m.ClearEmailIndex()
		return nil
	}
	email, index, err := s.emailKey(merchantID, raw)
	if err != nil {
		return err
	}
	m.SetEmailEnc(s.box.Seal(email, sealContext(id, fieldEmail)))
	m.SetEmailIndex(index)
	m.SetPiiKeyID(s.box.ActiveKeyID())
	return nil
}

// applyConsent records each channel's decision with when it was made; a
// decision repeated keeps the time it was first made. old is the customer
// being updated, nil on create.
func (s *Service) applyConsent(m *ent.CustomerMutation, old *ent.Customer, c Consent) {
	now := s.now()
	var was ent.Customer
	if old != nil {
		was = *old
	}
	if c.Push != nil && (old == nil || *c.Push != was.PushConsent || was.PushConsentAt == nil) {
		m.SetPushConsent(*c.Push)
		m.SetPushConsentAt(now)
	}
	if c.SMS != nil && (old == nil || *c.SMS != was.SmsConsent || was.SmsConsentAt == nil) {
		m.SetSmsConsent(*c.SMS)
		m.SetSmsConsentAt(now)
	}
	if c.Email != nil && (old == nil || *c.Email != was.EmailConsent || was.EmailConsentAt == nil) {
		m.SetEmailConsent(*c.Email)
		m.SetEmailConsentAt(now)
	}
}

// reseal seals c's personal data that m leaves alone under the active key,
// when it was sealed under an older one.
func (s *Service) reseal(m *ent.CustomerMutation, c *ent.Customer) error {
	if c.PiiKeyID == s.box.ActiveKeyID() {
		return nil
	}
	contact, err := s.open(c)
	if err != nil {
		return err
	}
	if _, set := m.PhoneEnc(); !set && !m.PhoneEncCleared() && contact.Phone != nil {
		m.SetPhoneEnc(s.box.Seal(*contact.Phone, sealContext(c.ID, fieldPhone)))
	}
	if _, set := m.EmailEnc(); !set && !m.EmailEncCleared() && contact.Email != nil {
		m.SetEmailEnc(s.box.Seal(*contact.Email, sealContext(c.ID, fieldEmail)))
	}
	if _, set := m.AddressEnc(); !set && !m.AddressEncCleared() && contact.Address != nil {
		m.SetAddressEnc(s.box.Seal(*contact.Address, sealContext(c.ID, fieldAddress)))
	}
	m.SetPiiKeyID(s.box.ActiveKeyID())
	return nil
}

// open decrypts c's contact details.
func (s *Service) open(c *ent.Customer) (Contact, error) {
	var out Contact
	for _, d := range []Detail{Phone, Email, Address} {
		plain, err := s.openDetail(c, d)
		if err != nil {
			return Contact{}, err
		}
		*d.in(&out) = plain
	}
	return out, nil
}

// OpenDetail decrypts one of c's contact details whole, for a system path
// that sends to it (a receipt by email or text); nil when there is none.
// It neither masks nor audits, so callers must not show it to a person:
// those use ContactDetail or Reveal.
func (s *Service) OpenDetail(c *ent.Customer, d Detail) (*string, error) { return s.openDetail(c, d) }

// openDetail decrypts one of c's contact details; nil when there is none.
func (s *Service) openDetail(c *ent.Customer, d Detail) (*string, error) {
	sealed := *d.sealedIn(c)
	if sealed == nil {
		return nil, nil
	}
	plain, err := s.box.Open(*sealed, sealContext(c.ID, d.field()))
	if err != nil {
		return nil, fmt.Errorf("opening customer %s %s: %w", c.ID, d.field(), err)
	}
	return &plain, nil
}

// conflict turns a unique-index violation into CONFLICT.
func conflict(err error) error {
	var ce *ent.ConstraintError
	if !errors.As(err, &ce) {
		return err
	}
	for _, unique := range []struct{ column, field, what string }{
		{"phone", "phone", "phone"}, {"email", "email", "email"}, {"member_code", "memberCode", "member code"},
	} {
		if strings.Contains(ce.Error(), unique.column) {
			return &errs.Error{Code: errs.Conflict, Field: unique.field, Message: "another customer already has this " + unique.what}
		}
	}
	return &errs.Error{Code: errs.Conflict, Message: "conflicts with another customer"}
}
