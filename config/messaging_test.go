package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/config"
)

func TestFromEnvMessaging(t *testing.T) {
	t.Parallel()
	c, err := config.FromEnv(env(nil))
	require.NoError(t, err)
	require.Empty(t, c.SMTPHost, "no SMTP host: emails are logged in development")
	require.Equal(t, 587, c.SMTPPort)
	require.Equal(t, "mandatory", c.SMTPTLS)
	require.Empty(t, c.SMSWebhookURL)

	c, err = config.FromEnv(env(map[string]string{
		"SMTP_HOST": "smtp.example.com", "SMTP_PORT": "2525", "SMTP_USERNAME": "till", "SMTP_PASSWORD": "pw",
		"SMTP_FROM": "Till <receipts@example.com>", "SMTP_TLS": "opportunistic",
		"TILL_SMS_WEBHOOK_URL": "https://sms.example.com/send", "TILL_SMS_WEBHOOK_SECRET": "whsec",
	}))
	require.NoError(t, err)
	require.Equal(t, "smtp.example.com", c.SMTPHost)
	require.Equal(t, 2525, c.SMTPPort)
	require.Equal(t, "till", c.SMTPUsername)
	require.Equal(t, "pw", c.SMTPPassword)
	require.Equal(t, "Till <receipts@example.com>", c.SMTPFrom)
	require.Equal(t, "opportunistic", c.SMTPTLS)
	require.Equal(t, "https://sms.example.com/send", c.SMSWebhookURL)
	require.Equal(t, "whsec", c.SMSWebhookSecret)
}

func TestFromEnvRefusesBadMessaging(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		vars map[string]string
		want string
	}{
		"host without from":  {map[string]string{"SMTP_HOST": "smtp.example.com"}, "SMTP_FROM"},
		"bad from":           {map[string]string{"SMTP_HOST": "smtp.example.com", "SMTP_FROM": "not an address"}, "SMTP_FROM"},
		"port out of range":  {map[string]string{"SMTP_HOST": "smtp.example.com", "SMTP_FROM": "r@example.com", "SMTP_PORT": "70000"}, "SMTP_PORT"},
		"unknown TLS policy": {map[string]string{"SMTP_TLS": "sometimes"}, "SMTP_TLS"},
		"webhook not a URL":  {map[string]string{"TILL_SMS_WEBHOOK_URL": "sms.example.com", "TILL_SMS_WEBHOOK_SECRET": "s"}, "TILL_SMS_WEBHOOK_URL"},
		"webhook no secret":  {map[string]string{"TILL_SMS_WEBHOOK_URL": "https://sms.example.com"}, "TILL_SMS_WEBHOOK_SECRET"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := config.FromEnv(env(tc.vars))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestFromEnvProductionMessagingIsEncrypted(t *testing.T) {
	t.Parallel()
	vars := prodEnv()
	vars["SMTP_TLS"] = "none"
	_, err := config.FromEnv(env(vars))
	require.ErrorContains(t, err, "SMTP_TLS")

	vars = prodEnv()
	vars["TILL_SMS_WEBHOOK_URL"], vars["TILL_SMS_WEBHOOK_SECRET"] = "http://sms.example.com", "s"
	_, err = config.FromEnv(env(vars))
	require.ErrorContains(t, err, "https")

	// Development may post to a local stand-in over http.
	_, err = config.FromEnv(env(map[string]string{"TILL_SMS_WEBHOOK_URL": "http://127.0.0.1:9999/sms", "TILL_SMS_WEBHOOK_SECRET": "s", "SMTP_TLS": "none"}))
	require.NoError(t, err)
}
