// Package idempotency tells a retried write from a new one. A client sends
// a key of its choosing with every write it may retry (a sale, a refund, a
// pairing); the first request with a key makes something and keeps the
// key with a hash of what was asked. A later request with the key is a
// retry when it hashes the same, and is told what the first one made; one
// that hashes otherwise is IDEMPOTENCY_CONFLICT.
package idempotency

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/errs"
)

// MaxKeyLength bounds an idempotency key.
const MaxKeyLength = 128

// CheckKey checks an idempotency key's shape: BAD_USER_INPUT naming
// idempotencyKey when it is blank or too long.
func CheckKey(key string) error {
	if strings.TrimSpace(key) == "" || len(key) > MaxKeyLength {
		return errs.Invalid("idempotencyKey", "an idempotency key is 1 to %d characters", MaxKeyLength)
	}
	return nil
}

// requestHash identifies what was asked (v, as JSON), so that a reused key
// with a different request is told apart from a retry.
func requestHash(v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("hashing request: %w", err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

// Replayable sorts out what an idempotency key made before: nothing (the
// zero T, when the lookup found nothing), the same request (prior, to
// replay) or another request, which is IDEMPOTENCY_CONFLICT. prior and err
// are the lookup's answer; hashOf reads the hash prior was made with; what
// names the kind of thing for the error ("sale").
func Replayable[T any](prior T, err error, hashOf func(T) string, hash, what string) (T, error) {
	var none T
	switch {
	case ent.IsNotFound(err):
		return none, nil
	case err != nil:
		return none, fmt.Errorf("looking up idempotency key: %w", err)
	case hashOf(prior) != hash:
		return none, &errs.Error{Code: errs.IdempotencyConflict, Field: "idempotencyKey",
			Message: "this idempotency key was used for a different " + what}
	}
	return prior, nil
}

// Once makes what a key guards at most once, for request req: prior
// looks up what the key made (T's zero value when nothing,
// IDEMPOTENCY_CONFLICT for another request), write makes it; both are
// given req's hash, which the key is kept with. A request
// whose key committed elsewhere while write ran fails in write (on the
// key's unique index, or on a check of what the other wrote): it is
// answered with what the key made, as a retry is, not refused for it.
// replayed says the answer is prior's.
func Once[T comparable](req any, prior, write func(hash string) (T, error)) (made T, replayed bool, err error) {
	var none T
	hash, err := requestHash(req)
	if err != nil {
		return none, false, err
	}
	if p, err := prior(hash); p != none || err != nil {
		return p, p != none, err
	}
	made, err = write(hash)
	if err == nil {
		return made, false, nil
	}
	if p, perr := prior(hash); p != none || perr != nil {
		return p, p != none, perr
	}
	return none, false, err
}
