package tilltest

import (
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/operators"
)

// Password is the password fixtures give everyone.
const Password = "correct horse battery"

// Account is a logged-in person in a test.
type Account struct {
	Email    string
	Password string
	Token    string
	Refresh  string
	// ID is the staff member's or operator's node ID.
	ID         string
	MerchantID string
	// StoreID is the first of the merchant's stores (set by SignUp).
	StoreID string
}

// UniqueEmail returns an email no other test uses.
func UniqueEmail(kind string) string {
	return strings.ToLower(rand.Text()) + "@" + kind + ".example"
}

const authFields = `accessToken refreshToken viewer { staff { id } operator { id } merchant { id } stores { id } }`

type authPayload struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	Viewer       struct {
		Staff    *struct{ ID string }  `json:"staff"`
		Operator *struct{ ID string }  `json:"operator"`
		Merchant *struct{ ID string }  `json:"merchant"`
		Stores   []struct{ ID string } `json:"stores"`
	} `json:"viewer"`
}

func (p authPayload) account(email, secret string) *Account {
	a := &Account{Email: email, Password: secret, Token: p.AccessToken, Refresh: p.RefreshToken}
	switch {
	case p.Viewer.Staff != nil:
		a.ID = p.Viewer.Staff.ID
	case p.Viewer.Operator != nil:
		a.ID = p.Viewer.Operator.ID
	}
	if p.Viewer.Merchant != nil {
		a.MerchantID = p.Viewer.Merchant.ID
	}
	if len(p.Viewer.Stores) > 0 {
		a.StoreID = p.Viewer.Stores[0].ID
	}
	return a
}

// SignUp creates a merchant with an OWNER and returns the logged-in owner.
func (e *Env) SignUp(t testing.TB, merchantName string) *Account {
	t.Helper()
	email := UniqueEmail("owner")
	res := e.Exec(t, "", `mutation($i: SignUpMerchantInput!) { signUpMerchant(input: $i) { `+authFields+` } }`,
		map[string]any{"i": map[string]any{
			"merchantName": merchantName, "ownerName": merchantName + " Owner", "email": email,
			"password": Password, "currency": "CNY", "timeZone": "Asia/Shanghai",
		}})
	var out struct{ SignUpMerchant authPayload }
	res.Decode(t, &out)
	return out.SignUpMerchant.account(email, Password)
}

// AddStaff has by create a staff member with role (working at by's first
// store) and returns them logged in.
func (e *Env) AddStaff(t testing.TB, by *Account, role string) *Account {
	t.Helper()
	email := UniqueEmail(strings.ToLower(role))
	in := map[string]any{"name": role + " " + email[:6], "email": email, "password": Password, "role": role}
	if by.StoreID != "" {
		in["storeIds"] = []string{by.StoreID}
	}
	res := e.Exec(t, by.Token, `mutation($i: CreateStaffInput!) { createStaff(input: $i) { staff { id } } }`, map[string]any{"i": in})
	var out struct {
		CreateStaff struct{ Staff struct{ ID string } }
	}
	res.Decode(t, &out)
	a := e.LogIn(t, email, Password)
	a.StoreID = by.StoreID
	return a
}

// LogIn logs in with email and secret, failing t on any error.
func (e *Env) LogIn(t testing.TB, email, secret string) *Account {
	t.Helper()
	res := e.LogInResult(t, email, secret)
	var out struct{ LogIn authPayload }
	res.Decode(t, &out)
	return out.LogIn.account(email, secret)
}

// LogInResult attempts a login and returns the raw result.
func (e *Env) LogInResult(t testing.TB, email, secret string) *Result {
	t.Helper()
	return e.Exec(t, "", `mutation($i: LogInInput!) { logIn(input: $i) { `+authFields+` } }`,
		map[string]any{"i": map[string]any{"email": email, "password": secret}})
}

// Operator creates a platform operator, as `till operator create` does,
// and returns them logged in.
func (e *Env) Operator(t testing.TB) *Account {
	t.Helper()
	email := UniqueEmail("operator")
	if _, err := operators.Create(t.Context(), e.DB.Client, password.NewHasher(bcrypt.MinCost), email, "Op", Password); err != nil {
		t.Fatalf("creating operator: %v", err)
	}
	return e.LogIn(t, email, Password)
}
