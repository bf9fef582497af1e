// Package customers keeps a merchant's customers: profiles whose phone,
// email and address are stored only encrypted, recognition at the counter
// through blind indexes, merging duplicates, and the privacy rights of
// export and erasure.
//
// Who may do what: any staff member registers, updates and looks up
// customers; OWNER and MANAGER archive, merge, export and erase them.
// Cashiers see phones and emails masked; they may reveal them (audited)
// only when the owner has allowed it for the merchant.
package customers

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/pii"
)

// Service manages customers.
type Service struct {
	db    *ent.Client
	box   *pii.Box
	now   func() time.Time
	hooks Hooks
}

// Hooks are what other domains that keep something of a customer's
// (loyalty points, stored value, offers used) do when the customer is
// merged or their data is exported.
type Hooks struct {
	// Merged run in a merge's transaction, after the customers are
	// locked: each moves what it keeps of the duplicate (from) to the
	// survivor (to).
	Merged []func(ctx context.Context, tx *ent.Tx, merchantID, from, to pulid.ID) error
	// Exported add sections to a customer's data export, by name: what
	// each holds about the customer with id.
	Exported map[string]func(ctx context.Context, client *ent.Client, id pulid.ID) (any, error)
}

// Option configures a Service.
type Option func(*Service)

// WithHooks adds what a domain does on merges and exports.
func WithHooks(h Hooks) Option {
	return func(s *Service) {
		s.hooks.Merged = append(s.hooks.Merged, h.Merged...)
		for name, export := range h.Exported {
			if s.hooks.Exported == nil {
				s.hooks.Exported = map[string]func(context.Context, *ent.Client, pulid.ID) (any, error){}
			}
			s.hooks.Exported[name] = export
		}
	}
}

// New returns a Service sealing personal data with box.
func New(client *ent.Client, box *pii.Box, opts ...Option) *Service {
	s := &Service{db: client, box: box, now: db.Now}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// Consent is a customer's marketing consent per channel; nil leaves a
// channel as it is.
type Consent struct {
	Push, SMS, Email *bool
}

// Profile is what a customer is registered or updated with. On update,
// nil leaves a field as it is and an empty string clears it.
type Profile struct {
	Name        *string
	Phone       *string
	Email       *string
	Address     *string
	Birthday    *string
	Gender      *customer.Gender
	ClearGender bool
	Notes       *string
	// Tags, when not nil, replaces the tags.
	Tags       []string
	MemberCode *string
	Consent    Consent
}

// Contact is a customer's decrypted contact details.
type Contact struct {
	Phone, Email, Address *string
}

// Detail is one of a customer's sealed contact details.
type Detail int

// The contact details.
const (
	Phone Detail = iota
	Email
	Address
)

// field names a detail; it is part of what the sealed value is bound to.
func (d Detail) field() string { return [...]string{fieldPhone, fieldEmail, fieldAddress}[d] }

// Details are every sealed contact detail.
var Details = []Detail{Phone, Email, Address}

// SealContext is what the detail of customer id is sealed bound to: a
// merchant move opens the details with it and re-seals them under the
// target's key.
func (d Detail) SealContext(id pulid.ID) string { return sealContext(id, d.field()) }

// Index is the blind index of the detail's (normalised) value in the
// merchant, as lookups compute it; false for a detail not looked up by.
func (d Detail) Index(box *pii.Box, merchantID pulid.ID, value string) (string, bool) {
	if d == Address {
		return "", false
	}
	return box.Index(string(merchantID), d.field(), value), true
}

// sealedIn points at the detail's sealed column in c.
func (d Detail) sealedIn(c *ent.Customer) **string {
	return [...]**string{&c.PhoneEnc, &c.EmailEnc, &c.AddressEnc}[d]
}

// in points at the detail in contact.
func (d Detail) in(contact *Contact) **string {
	return [...]**string{&contact.Phone, &contact.Email, &contact.Address}[d]
}

// field names the sealed fields, and is part of what each is bound to.
const (
	fieldPhone   = "phone"
	fieldEmail   = "email"
	fieldAddress = "address"
)

// sealContext binds a sealed value to its customer and field.
func sealContext(id pulid.ID, field string) string {
	return string(id) + "|" + field
}

// staffViewer returns the staff viewer in ctx, or FORBIDDEN.
func staffViewer(ctx context.Context, roles ...viewer.Role) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() {
		return nil, errs.Newf(errs.Forbidden, "only a merchant's staff manage its customers")
	}
	if len(roles) > 0 && !v.HasRole(roles...) {
		return nil, errs.Newf(errs.Forbidden, "only an owner or a manager may do this")
	}
	return v, nil
}

// region is the country a phone number without a country code belongs to:
// the region of the merchant's locale (zh-CN → CN).
func (s *Service) region(ctx context.Context, merchantID pulid.ID) (string, error) {
	m, err := s.db.Merchant.Get(ctx, merchantID)
	if err != nil {
		return "", fmt.Errorf("loading merchant: %w", err)
	}
	tag, err := language.Parse(m.Locale)
	if err != nil {
		return "US", nil
	}
	r, _ := tag.Region()
	return r.String(), nil
}

// get loads a customer of the caller's merchant, or NOT_FOUND.
func get(ctx context.Context, client *ent.Client, id pulid.ID) (*ent.Customer, error) {
	c, err := client.Customer.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, errs.Newf(errs.NotFound, "customer not found")
	}
	if err != nil {
		return nil, fmt.Errorf("loading customer: %w", err)
	}
	return c, nil
}

// lock locks customers' rows until the transaction of client ends, in id
// order so that two transactions locking the same customers cannot
// deadlock. PostgreSQL only: SQLite runs one write transaction at a time.
// A customer of another merchant is not locked (get then answers
// NOT_FOUND).
func lock(ctx context.Context, client *ent.Client, ids ...pulid.ID) error {
	_, err := client.Customer.Query().Where(customer.IDIn(ids...)).
		Order(ent.Asc(customer.FieldID)).
		Select(customer.FieldID).Modify(db.ForUpdate).Strings(ctx)
	if err != nil {
		return fmt.Errorf("locking customers: %w", err)
	}
	return nil
}

// newMemberCode makes a 10-digit card number.
func newMemberCode() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(9_000_000_000))
	return fmt.Sprint(1_000_000_000 + n.Int64())
}

// nameKey is a name as search ranks it: lower-cased, words single-spaced.
func nameKey(name string) string {
	return strings.Join(strings.Fields(strings.ToLower(name)), " ")
}

// searchText is what searchCustomers matches query words against: the
// name's and the tags' words, lower-cased, each after a space.
func searchText(name string, tags []string) string {
	text := " " + nameKey(name)
	for _, t := range tags {
		if key := nameKey(t); key != "" {
			text += " " + key
		}
	}
	return text
}

// maxTags is how many tags a customer may have.
const maxTags = 50

// cleanTags trims, drops empties and duplicates, keeping the order given.
func cleanTags(tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" || slices.Contains(out, t) {
			continue
		}
		if len([]rune(t)) > 40 {
			return nil, errs.Invalid("tags", "a tag is at most 40 characters")
		}
		out = append(out, t)
	}
	if len(out) > maxTags {
		return nil, errs.Invalid("tags", "at most %d tags", maxTags)
	}
	return out, nil
}
