package server

import (
	"context"
	"log/slog"

	"google.golang.org/api/option"

	"github.com/tillpos/till/config"
	"github.com/tillpos/till/notify/email"
	"github.com/tillpos/till/notify/push"
	"github.com/tillpos/till/notify/sms"
)

// emailSender sends through the configured SMTP server; without one,
// development logs emails and production refuses them (a receipt then
// shows FAILED rather than pretending it went out).
func emailSender(cfg config.Config, log *slog.Logger) email.Sender {
	if cfg.SMTPHost == "" {
		if cfg.Production {
			return email.Unconfigured{}
		}
		return email.Log{Logger: log}
	}
	// FromEnv has checked the settings NewSMTP checks.
	s, err := email.NewSMTP(email.SMTPConfig{
		Host: cfg.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
		From: cfg.SMTPFrom, TLSPolicy: email.TLSPolicy(cfg.SMTPTLS),
	})
	if err != nil {
		log.Error("email disabled", "err", err)
		return email.Unconfigured{}
	}
	return s
}

// smsSender posts to the configured webhook; without one, development logs
// messages and production refuses them.
func smsSender(cfg config.Config, log *slog.Logger) sms.Sender {
	switch {
	case cfg.SMSWebhookURL != "":
		return sms.NewWebhook(cfg.SMSWebhookURL, cfg.SMSWebhookSecret, nil)
	case cfg.Production:
		return sms.Unconfigured{}
	default:
		return sms.Log{Logger: log}
	}
}

// pushSender sends pushes through FCM with the configured service
// account; with none, development logs them (they are still recorded as
// notifications) and production refuses them.
func pushSender(ctx context.Context, cfg config.Config, log *slog.Logger) (push.Sender, error) {
	switch {
	case cfg.FirebaseCredentials == "" && cfg.Production:
		log.Warn("no FIREBASE_CREDENTIALS: pushes fail (dead letters) until it is set")
		return push.Unconfigured{}, nil
	case cfg.FirebaseCredentials == "":
		log.Info("no FIREBASE_CREDENTIALS: pushes are logged, not sent")
		return push.NewLog(log), nil
	}
	var opts []option.ClientOption
	if cfg.FCMEndpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.FCMEndpoint))
	}
	return push.NewFCM(ctx, cfg.FirebaseCredentials, opts...)
}
