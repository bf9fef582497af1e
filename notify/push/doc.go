// Package push sends notifications to staff phones and tablets through
// Firebase Cloud Messaging (FCM).
//
// The owner's phone buzzes on each sale, so a push is small, urgent and
// replaceable: every message carries a collapse key (the Android
// collapse_key and tag, the APNs apns-collapse-id), so a burst of sales
// updates one notification instead of stacking dozens, and a phone that was
// offline gets the latest one rather than the backlog.
//
// Send reports each token's fate instead of failing the whole message:
// tokens FCM no longer knows (UNREGISTERED, INVALID_ARGUMENT) come back in
// Result.Invalid for the caller to prune, so dead installs do not cost a
// request on every sale; throttled or unavailable ones come back in
// Result.Retry with the delay FCM asked for. Because a payload FCM rejects
// also answers INVALID_ARGUMENT for every token, Send refuses such payloads
// itself rather than let them prune every phone. An error means the request
// as a whole failed (credentials, permission, network); errors retrying
// cannot fix have Permanent() true, for the outbox to dead-letter at once.
//
// FCM is the real sender; Log stands in when no Firebase credentials are
// configured, and package fcmtest stands in for Google in tests.
package push
