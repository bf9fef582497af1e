package notify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/notification"
	"github.com/tillpos/till/ent/pushtoken"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/notify/push"
	"github.com/tillpos/till/outbox"
)

// send pushes the notification e is about to its person's phones, each in
// the phone's language. Phones already sent to are skipped, so a retry
// buzzes only those the last try missed; phones FCM no longer knows are
// forgotten.
func (s *Service) send(ctx context.Context, e *ent.OutboxEvent) error {
	note, err := s.db.Notification.Get(ctx, pulid.ID(e.SubjectID))
	if err != nil {
		return fmt.Errorf("reading the notification: %w", err)
	}
	if note.Status != notification.StatusPENDING {
		return nil
	}
	tokens, err := s.db.PushToken.Query().
		Where(pushtoken.StaffID(note.StaffID), pushtoken.MerchantID(note.MerchantID), pushtoken.IDNotIn(ids(note.SentTokens)...)).
		All(ctx)
	if err != nil {
		return err
	}
	if len(tokens) == 0 {
		status := notification.StatusSENT
		if len(note.SentTokens) == 0 {
			status = notification.StatusNO_DEVICE
		}
		return s.db.Notification.UpdateOne(note).SetStatus(status).Exec(ctx)
	}
	byToken := map[string]*ent.PushToken{}
	byLocale := map[string][]push.Target{}
	for _, t := range tokens {
		byToken[t.Token] = t
		byLocale[t.Locale] = append(byLocale[t.Locale], push.Target{Token: t.Token, Platform: push.Platform(t.Platform)})
	}
	data := map[string]string{"type": note.Event, "notificationId": string(note.ID), "subjectId": note.SubjectID, "storeId": string(note.StoreID)}
	if strings.HasPrefix(note.Event, "sale.") || note.Event == outbox.RiskFlagged {
		// The app opens the sale from the notification.
		data["saleId"] = note.SubjectID
	}
	var sent, invalid []string
	var retry error
	for locale, targets := range byLocale {
		title, body := Render(locale, note)
		res, err := s.push.Send(ctx, push.Message{
			Targets: targets, Title: title, Body: body, Data: data,
			CollapseKey: note.Event + ":" + note.SubjectID,
			ChannelID:   channelOf(Kind(note.TextKey)),
		})
		if err != nil {
			retry = err
		}
		sent = append(sent, res.Sent...)
		invalid = append(invalid, res.Invalid...)
		if len(res.Retry) > 0 && retry == nil {
			retry = retryLater{tokens: len(res.Retry), after: res.RetryAfter}
		}
	}
	sentIDs := slices.Clone(note.SentTokens)
	for _, tok := range sent {
		sentIDs = append(sentIDs, string(byToken[tok].ID))
	}
	// What was sent is recorded even if the delivery ran out of time, so a
	// retry does not buzz those phones twice.
	ctx = context.WithoutCancel(ctx)
	err = db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		if len(invalid) > 0 {
			if _, err := tx.PushToken.Delete().Where(pushtoken.TokenIn(invalid...)).Exec(ctx); err != nil {
				return fmt.Errorf("forgetting unregistered push tokens: %w", err)
			}
			s.log.InfoContext(ctx, "notify: forgot push tokens FCM no longer knows", "count", len(invalid), "staff", note.StaffID)
		}
		update := tx.Notification.UpdateOne(note).SetSentTokens(sentIDs)
		switch {
		case retry == nil && len(sentIDs) > 0:
			update.SetStatus(notification.StatusSENT).SetSentAt(db.Now()).ClearLastError()
		case retry == nil:
			update.SetStatus(notification.StatusNO_DEVICE)
		default:
			update.SetLastError(retry.Error())
		}
		return update.Exec(ctx)
	})
	if err != nil {
		return err
	}
	return retry
}

// retryLater is a push some phones of which FCM asked to be tried later.
type retryLater struct {
	tokens int
	after  time.Duration
}

func (r retryLater) Error() string {
	return fmt.Sprintf("FCM asked to retry %d phone(s) later", r.tokens)
}

// RetryAfter is the delay FCM asked for, read by the outbox worker.
func (r retryLater) RetryAfter() time.Duration { return r.after }

func ids(ss []string) []pulid.ID {
	out := make([]pulid.ID, len(ss))
	for i, s := range ss {
		out[i] = pulid.ID(s)
	}
	return out
}

// channelOf is the Android notification channel a kind goes to, so a
// person can mute the sales feed on the phone and keep the alerts.
func channelOf(k Kind) string {
	switch k {
	case SaleCompleted, SaleRefunded, SaleVoided, DailySummary:
		return "sales"
	}
	return "alerts"
}
