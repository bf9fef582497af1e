// Package operators manages platform operator accounts.
package operators

import (
	"context"
	"fmt"
	"strings"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/merchants"
)

// Create adds an operator with a login email and password. It runs as a
// system job: operators are created from the command line, not the API.
//
// Errors: BAD_USER_INPUT (email or password), CONFLICT (email taken).
func Create(ctx context.Context, client *ent.Client, hasher *password.Hasher, email, name, secret string) (*ent.Operator, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if err := merchants.ValidateEmail("email", email); err != nil {
		return nil, err
	}
	if name = strings.TrimSpace(name); name == "" {
		name = email
	}
	if err := password.CheckPassword(secret, email); err != nil {
		return nil, errs.Invalid("password", "%s", err.Error())
	}
	hash, err := hasher.Hash(secret)
	if err != nil {
		return nil, fmt.Errorf("hashing password: %w", err)
	}
	ctx = viewer.NewSystemContext(ctx, "operator-create")
	if err := merchants.EnsureEmailFree(ctx, client, email); err != nil {
		return nil, err
	}
	return db.InTx(ctx, client, func(tx *ent.Tx) (*ent.Operator, error) {
		op, err := tx.Operator.Create().SetEmail(email).SetName(name).SetPasswordHash(hash).Save(ctx)
		if ent.IsConstraintError(err) {
			return nil, &errs.Error{Code: errs.Conflict, Field: "email", Message: "email is already registered"}
		}
		if err != nil {
			return nil, fmt.Errorf("creating operator: %w", err)
		}
		return op, audit.RecordPlatform(ctx, tx.Client(), audit.Entry{
			Action: "operator.created", TargetType: "Operator", TargetID: op.ID, Details: map[string]any{"email": email},
		})
	})
}
