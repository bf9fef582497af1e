// Package dest keeps backup files in several places: local or mounted
// directories and S3-compatible storage. Run streams one backup to every
// destination at once and reads each copy back to verify it; Retention
// chooses which old backups to delete.
package dest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Destination is a place backup files are kept. Names are plain file
// names (no directories).
type Destination interface {
	// String names the destination for logs and reports; it never
	// includes credentials.
	String() string
	// Put stores what r yields under name. If r fails or Put returns an
	// error, no file (not even a partial one) is left under name.
	Put(ctx context.Context, name string, r io.Reader) error
	// List returns the names of the files kept, in no particular order.
	List(ctx context.Context) ([]string, error)
	// Open reads the file called name back.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Delete removes the file called name.
	Delete(ctx context.Context, name string) error
}

// Parse turns one entry of TILL_BACKUP_TO into a destination: an
// s3://… URL (see NewS3) or a directory path.
func Parse(spec string) (Destination, error) {
	if strings.HasPrefix(spec, "s3://") {
		return NewS3(spec)
	}
	if spec == "" {
		return nil, errors.New("backup destination: empty")
	}
	if strings.Contains(spec, "://") {
		return nil, fmt.Errorf("backup destination %q: want a directory or an s3:// URL", spec)
	}
	return NewDir(spec), nil
}

// ParseAll parses every spec, reporting all that are wrong at once.
func ParseAll(specs []string) ([]Destination, error) {
	var (
		out  []Destination
		errs []error
	)
	for _, spec := range specs {
		d, err := Parse(spec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}

const (
	namePrefix = "till-"
	nameSuffix = ".tillbak"
	nameTime   = "20060102T150405Z"
)

// FileName is the name of the whole-database backup taken at t:
// till-YYYYMMDDTHHMMSSZ.tillbak, in UTC.
func FileName(t time.Time) string {
	return namePrefix + t.UTC().Format(nameTime) + nameSuffix
}

// ParseName returns the time in a name FileName made; false for any other
// file (per-merchant exports, temporary files, strangers).
func ParseName(name string) (time.Time, bool) {
	stamp, ok := strings.CutPrefix(name, namePrefix)
	if !ok {
		return time.Time{}, false
	}
	if stamp, ok = strings.CutSuffix(stamp, nameSuffix); !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(nameTime, stamp)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
