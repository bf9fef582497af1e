// Package version reads the semantic versions of device software and gives
// each a key that sorts as the version does, so "the newest release" is an
// ORDER BY on an index rather than a sort in Go.
//
// Parsing and precedence are golang.org/x/mod/semver's (Semantic
// Versioning 2.0.0); this package adds the strict form Till accepts and the
// sort key.
package version

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/semver"
)

// MaxLen is the longest version accepted.
const MaxLen = 64

// numWidth is how many digits a numeric part is padded to in a key; larger
// numbers are refused.
const numWidth = 10

// ErrInvalid is returned for a string that is not a version Till accepts.
var ErrInvalid = errors.New("must be a semantic version MAJOR.MINOR.PATCH, e.g. 2.4.1 or 2.5.0-beta.1")

// Parse reads "MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]" (a leading "v" is
// allowed) and returns it without the "v" and without build metadata, which
// does not count in precedence. Numbers have at most 10 digits.
func Parse(s string) (string, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	if s == "" || len(s) > MaxLen {
		return "", ErrInvalid
	}
	canon := semver.Canonical("v" + s)
	// Canonical fills in a missing MINOR or PATCH ("v1" → "v1.0.0"); Till
	// wants all three written out.
	core := s
	if i := strings.IndexAny(s, "-+"); i >= 0 {
		core = s[:i]
	}
	if canon == "" || strings.Count(core, ".") != 2 {
		return "", ErrInvalid
	}
	v := strings.TrimPrefix(canon, "v")
	if _, err := key(v); err != nil {
		return "", err
	}
	return v, nil
}

// Check reports whether s is a version as Till stores it: valid, without a
// leading "v" and without build metadata. It suits ent field validators.
func Check(s string) error {
	v, err := Parse(s)
	if err != nil {
		return err
	}
	if v != s {
		return fmt.Errorf("%q is not in canonical form %q", s, v)
	}
	return nil
}

// Compare returns -1, 0 or +1 as a is older than, as old as, or newer than
// b. Both must have been returned by Parse.
func Compare(a, b string) int { return semver.Compare("v"+a, "v"+b) }

// Key returns a string whose byte order is the precedence order of
// versions: zero-padded MAJOR.MINOR.PATCH, then "~" for a release or "-"
// and the encoded pre-release identifiers (a pre-release comes before its
// release). v must have been returned by Parse; Key panics otherwise.
func Key(v string) string {
	k, err := key(v)
	if err != nil {
		panic(fmt.Sprintf("version.Key(%q): %v", v, err))
	}
	return k
}

// key encodes v. Pre-release identifiers are joined by "!", which sorts
// before every character an identifier may hold, so a shorter run of equal
// identifiers comes first; a numeric identifier is "0" and its padded
// number, an alphanumeric one "1" and itself, so numbers come first and
// compare by value.
func key(v string) (string, error) {
	core, pre, hasPre := strings.Cut(v, "-")
	var b strings.Builder
	for i, n := range strings.Split(core, ".") {
		if i > 0 {
			b.WriteByte('.')
		}
		if err := writeNum(&b, n); err != nil {
			return "", err
		}
	}
	if !hasPre {
		b.WriteByte('~')
		return b.String(), nil
	}
	b.WriteByte('-')
	for i, id := range strings.Split(pre, ".") {
		if i > 0 {
			b.WriteByte('!')
		}
		if isNum(id) {
			b.WriteByte('0')
			if err := writeNum(&b, id); err != nil {
				return "", err
			}
			continue
		}
		b.WriteByte('1')
		b.WriteString(id)
	}
	return b.String(), nil
}

func writeNum(b *strings.Builder, n string) error {
	if len(n) > numWidth {
		return ErrInvalid
	}
	b.WriteString(strings.Repeat("0", numWidth-len(n)))
	b.WriteString(n)
	return nil
}

func isNum(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
