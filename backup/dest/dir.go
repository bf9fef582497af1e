package dest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Dir keeps backups in a local or mounted directory.
type Dir struct {
	path string
}

var _ Destination = (*Dir)(nil)

// NewDir returns the destination at path; the directory is created on the
// first Put.
func NewDir(path string) *Dir { return &Dir{path: filepath.Clean(path)} }

// String is the directory's path.
func (d *Dir) String() string { return d.path }

// Put writes r to a temporary file in the directory, syncs it and renames
// it to name, then syncs the directory, so a crash leaves either the whole
// file under name or none (only a hidden temporary file, which List skips).
func (d *Dir) Put(ctx context.Context, name string, r io.Reader) (err error) {
	if err := checkName(name); err != nil {
		return err
	}
	if err := os.MkdirAll(d.path, 0o700); err != nil {
		return fmt.Errorf("creating backup directory: %w", err)
	}
	f, err := os.CreateTemp(d.path, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("creating temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, contextReader{ctx, r}); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(d.path, name)); err != nil {
		return fmt.Errorf("renaming %s into place: %w", name, err)
	}
	// The rename is durable only once the directory entry is on disk.
	return syncDir(d.path)
}

func syncDir(path string) error {
	dir, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening backup directory: %w", err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("syncing backup directory: %w", err)
	}
	return nil
}

// List returns the regular files in the directory, hidden ones (temporary
// files of writes in progress or interrupted) left out. A directory not
// made yet holds nothing.
func (d *Dir) List(context.Context) ([]string, error) {
	entries, err := os.ReadDir(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing backup directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Open opens the file called name.
func (d *Dir) Open(_ context.Context, name string) (io.ReadCloser, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	return os.Open(filepath.Join(d.path, name))
}

// Delete removes the file called name.
func (d *Dir) Delete(_ context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return os.Remove(filepath.Join(d.path, name))
}

// checkName refuses names that would reach outside the destination or
// hide among temporary files.
func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("backup file name %q: want a plain file name", name)
	}
	return nil
}

// contextReader stops a copy once ctx is done, for writers that would
// otherwise read on.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
