// Package pulid implements prefixed ULIDs, Till's opaque global IDs.
//
// An ID looks like "stf_01JD7X0Q2N3V4W5X6Y7Z8A9B0C": the prefix names the
// entity type, so node(id:) can route an ID to its table without a lookup,
// and the ULID is random and time-ordered, so IDs are unguessable, sort by
// creation, and reveal nothing about how many rows other merchants have.
package pulid

import (
	"crypto/rand"
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// ID is a prefixed ULID.
type ID string

// separator sits between the type prefix and the ULID.
const separator = "_"

var (
	entropyMu sync.Mutex
	entropy   = ulid.Monotonic(rand.Reader, 0)
)

// New returns a new ID for the given type prefix.
func New(prefix string) ID {
	entropyMu.Lock()
	defer entropyMu.Unlock()
	return ID(prefix + separator + ulid.MustNew(ulid.Timestamp(time.Now()), entropy).String())
}

// Prefix returns the type prefix of id, or "" when id is not a well-formed ID.
func (id ID) Prefix() string {
	prefix, rest, ok := strings.Cut(string(id), separator)
	if !ok || len(rest) != ulid.EncodedSize {
		return ""
	}
	return prefix
}

// UnmarshalGQL implements graphql.Unmarshaler.
// entgql's generated node resolver passes an ID back through it, so an ID is
// accepted as well as the string a client sends.
func (id *ID) UnmarshalGQL(v any) error {
	switch v := v.(type) {
	case string:
		*id = ID(v)
	case ID:
		*id = v
	default:
		return fmt.Errorf("pulid: ID must be a string, got %T", v)
	}
	return nil
}

// MarshalGQL implements graphql.Marshaler.
func (id ID) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(id)))
}

// Scan implements sql.Scanner.
func (id *ID) Scan(src any) error {
	switch src := src.(type) {
	case string:
		*id = ID(src)
	case []byte:
		*id = ID(src)
	case nil:
		return fmt.Errorf("pulid: expected a value")
	default:
		return fmt.Errorf("pulid: unexpected type %T", src)
	}
	return nil
}

// Value implements driver.Valuer.
func (id ID) Value() (driver.Value, error) {
	return string(id), nil
}
