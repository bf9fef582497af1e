package campaigns

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
)

// Channel is a channel a customer opts out of.
type Channel string

// The channels of opt-out tokens.
const (
	ChannelEmail Channel = "email"
	ChannelSMS   Channel = "sms"
)

// deriveKey makes a key of its own for one use of secret, so that a
// token signed for that use is worth nothing anywhere else the secret is
// used (the blind index).
func deriveKey(secret []byte, use string) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("till " + use))
	return mac.Sum(nil)
}

// UnsubscribeToken signs "customer id.channel". It does not expire: an
// unsubscribe link in an old email must still work.
func (s *Service) UnsubscribeToken(customerID pulid.ID, ch Channel) string {
	payload := string(customerID) + "." + string(ch)
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." +
		base64.RawURLEncoding.EncodeToString(s.sign(payload))
}

// UnsubscribeURL is the link that opts a customer out of a channel.
func (s *Service) UnsubscribeURL(customerID pulid.ID, ch Channel) string {
	return s.publicURL + "/unsubscribe?t=" + url.QueryEscape(s.UnsubscribeToken(customerID, ch))
}

func (s *Service) sign(payload string) []byte {
	mac := hmac.New(sha256.New, s.optOutKey)
	mac.Write([]byte(payload))
	return mac.Sum(nil)
}

// parseToken returns what a token made by UnsubscribeToken names.
func (s *Service) parseToken(token string) (pulid.ID, Channel, error) {
	invalid := errs.Invalid("t", "is not an unsubscribe link of ours")
	enc, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", invalid
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(enc)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.sign(string(payload))) {
		return "", "", invalid
	}
	id, ch, ok := strings.Cut(string(payload), ".")
	if !ok || (Channel(ch) != ChannelEmail && Channel(ch) != ChannelSMS) {
		return "", "", invalid
	}
	return pulid.ID(id), Channel(ch), nil
}

// CheckUnsubscribe reports whether token is a valid unsubscribe token,
// without acting on it (the page a link opens asks first: mail scanners
// follow links).
//
// Errors: BAD_USER_INPUT (not a token of ours).
func (s *Service) CheckUnsubscribe(token string) error {
	_, _, err := s.parseToken(token)
	return err
}

// Unsubscribe withdraws the consent a token names, with the time and an
// audit entry. A repeat (or a customer erased since) changes nothing.
//
// Errors: BAD_USER_INPUT (not a token of ours).
func (s *Service) Unsubscribe(ctx context.Context, token string) error {
	id, ch, err := s.parseToken(token)
	if err != nil {
		return err
	}
	ctx = viewer.NewSystemContext(ctx, "campaign-unsubscribe")
	return db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		c, err := tx.Customer.Get(ctx, id)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("loading customer: %w", err)
		}
		return s.withdraw(ctx, tx, []*ent.Customer{c}, ch, "link")
	})
}

// withdraw clears the consent to ch of those of cs who gave it, and
// audits each, saying how they opted out.
func (s *Service) withdraw(ctx context.Context, tx *ent.Tx, cs []*ent.Customer, ch Channel, how string) error {
	now := s.now()
	for _, c := range cs {
		upd := tx.Customer.UpdateOne(c)
		switch {
		case ch == ChannelEmail && c.EmailConsent:
			upd.SetEmailConsent(false).SetEmailConsentAt(now)
		case ch == ChannelSMS && c.SmsConsent:
			upd.SetSmsConsent(false).SetSmsConsentAt(now)
		default:
			continue
		}
		if err := upd.Exec(ctx); err != nil {
			return fmt.Errorf("withdrawing consent: %w", err)
		}
		err := audit.Record(ctx, tx.Client(), audit.Entry{MerchantID: c.MerchantID, Action: "customer.opted_out",
			TargetType: "Customer", TargetID: c.ID, Details: map[string]any{"channel": string(ch), "via": how}})
		if err != nil {
			return err
		}
	}
	return nil
}

// stopWords opt a sender out when they are the whole reply, whatever the
// case: English, and the Chinese carriers' TD and 退订.
var stopWords = map[string]bool{"STOP": true, "UNSUBSCRIBE": true, "TD": true, "退订": true}

// IsStop reports whether an inbound SMS body asks to opt out.
func IsStop(body string) bool {
	return stopWords[strings.ToUpper(strings.TrimSpace(body))]
}

// InboundSMS acts on a text message a customer sent: STOP (see IsStop)
// withdraws SMS consent from every customer with the sender's number, at
// every merchant. The webhook's secret belongs to the deployment, not to a
// merchant, and the number the customer replied to is shared by all
// merchants, so nothing says which merchant's message they answer; a STOP
// honoured for all of them is the reading that never texts someone who
// asked not to be. It returns how many customers opted out; other
// messages are ignored.
func (s *Service) InboundSMS(ctx context.Context, from, body string) (int, error) {
	if !IsStop(body) {
		return 0, nil
	}
	ctx = viewer.NewSystemContext(ctx, "sms-inbound")
	found, err := s.customers.ByPhoneEverywhere(ctx, from)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range found {
		if c.SmsConsent {
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	return n, db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		return s.withdraw(ctx, tx, found, ChannelSMS, "sms")
	})
}

// signatureTolerance is how far a webhook's timestamp may be from now:
// an older request replayed is refused.
const signatureTolerance = 5 * time.Minute

// VerifyInbound checks an inbound webhook: signature is
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)) and
// timestamp (Unix seconds) is within five minutes of now.
func VerifyInbound(secret []byte, timestamp, signature string, body []byte, now time.Time) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || len(secret) == 0 {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > signatureTolerance || d < -signatureTolerance {
		return false
	}
	got, err := hex.DecodeString(strings.TrimPrefix(signature, "sha256="))
	if err != nil || !strings.HasPrefix(signature, "sha256=") {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp + "."))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// Now is the service's clock, for checking webhook timestamps.
func (s *Service) Now() time.Time { return s.now() }
