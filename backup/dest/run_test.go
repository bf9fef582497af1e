package dest_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/backup/dest"
	"github.com/tillpos/till/backup/dest/desttest"
)

// producer writes data in small writes, as a compressing encoder does.
func producer(data []byte) dest.Producer {
	return func(_ context.Context, w io.Writer) (dest.Summary, error) {
		for chunk := range slices.Chunk(data, 4096) {
			if _, err := w.Write(chunk); err != nil {
				return dest.Summary{}, err
			}
		}
		return dest.Summary{Tables: 3, Rows: 42}, nil
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// read returns the file called name at d.
func read(t *testing.T, d dest.Destination, name string) []byte {
	t.Helper()
	rc, err := d.Open(t.Context(), name)
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}

// flipping changes one byte of what it stores: storage that corrupts.
type flipping struct {
	dest.Destination
	at int64
}

func (f flipping) Put(ctx context.Context, name string, r io.Reader) error {
	return f.Destination.Put(ctx, name, &flipReader{r: r, at: f.at})
}

type flipReader struct {
	r     io.Reader
	at, n int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if i := f.at - f.n; i >= 0 && i < int64(n) {
		p[i] ^= 0x01
	}
	f.n += int64(n)
	return n, err
}

// broken refuses every write, as a full or unmounted disk does.
type broken struct{ dest.Destination }

func (broken) Put(_ context.Context, _ string, r io.Reader) error {
	// Take a little first, so the others are mid-stream when it fails.
	if _, err := io.CopyN(io.Discard, r, 10_000); err != nil {
		return err
	}
	return errors.New("disk full")
}

func TestRunToDirectories(t *testing.T) {
	t.Parallel()
	data := randomBytes(3<<20 + 17)
	a, b := dest.NewDir(t.TempDir()), dest.NewDir(filepath.Join(t.TempDir(), "not", "made", "yet"))
	name := dest.FileName(time.Date(2026, 12, 2, 3, 30, 0, 0, time.UTC))

	r := dest.Run(t.Context(), name, producer(data), a, b)
	require.NoError(t, r.Err())
	require.Equal(t, dest.OK, r.Outcome())
	require.Equal(t, int64(len(data)), r.Size)
	require.Equal(t, sha(data), r.SHA256)
	require.Equal(t, dest.Summary{Tables: 3, Rows: 42}, r.Summary)
	for _, d := range []dest.Destination{a, b} {
		require.Equal(t, data, read(t, d, name))
		names, err := d.List(t.Context())
		require.NoError(t, err)
		require.Equal(t, []string{name}, names, "no temporary file is left behind")
		info, err := os.Stat(filepath.Join(d.String(), name))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "a backup is readable by its owner only")
	}
}

func TestRunDetectsACorruptedCopy(t *testing.T) {
	t.Parallel()
	data := randomBytes(200_000)
	good, bad := dest.NewDir(t.TempDir()), dest.NewDir(t.TempDir())
	name := dest.FileName(time.Now())

	r := dest.Run(t.Context(), name, producer(data), good, flipping{Destination: bad, at: 123_456})
	require.Equal(t, dest.Partial, r.Outcome())
	require.NoError(t, r.Copies[0].Err)
	require.ErrorIs(t, r.Copies[1].Err, dest.ErrMismatch)
	require.ErrorIs(t, r.Err(), dest.ErrMismatch)
	require.Equal(t, data, read(t, good, name))
	names, err := bad.List(t.Context())
	require.NoError(t, err)
	require.Empty(t, names, "the corrupted copy is removed")
}

func TestRunCarriesOnWhenADestinationFails(t *testing.T) {
	t.Parallel()
	data := randomBytes(1 << 20)
	downS3 := desttest.NewS3(t, "till")
	downS3.Server.Close()
	down, err := dest.Parse(downS3.URL)
	require.NoError(t, err)
	dir := dest.NewDir(t.TempDir())
	full := broken{dest.NewDir(t.TempDir())}
	name := dest.FileName(time.Now())

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	r := dest.Run(ctx, name, producer(data), full, dir, down)
	require.Equal(t, dest.Partial, r.Outcome())
	require.ErrorContains(t, r.Copies[0].Err, "disk full")
	require.NoError(t, r.Copies[1].Err)
	require.Error(t, r.Copies[2].Err)
	require.Equal(t, data, read(t, dir, name))
	require.NotContains(t, r.Err().Error(), "fake/secret", "credentials are never reported")

	t.Run("all down stops the producer", func(t *testing.T) {
		wrote := 0
		r := dest.Run(ctx, name, func(_ context.Context, w io.Writer) (dest.Summary, error) {
			for range 1000 {
				if _, err := w.Write(make([]byte, 4096)); err != nil {
					return dest.Summary{}, err
				}
				wrote++
			}
			return dest.Summary{}, nil
		}, full)
		require.Equal(t, dest.Failed, r.Outcome())
		require.Less(t, wrote, 1000)
		require.ErrorContains(t, r.Err(), "disk full")
	})
}

func TestRunProducerFailureLeavesNoFile(t *testing.T) {
	t.Parallel()
	s3 := desttest.NewS3(t, "")
	bucket, err := dest.Parse(s3.URL)
	require.NoError(t, err)
	dir := dest.NewDir(t.TempDir())
	boom := errors.New("database went away")
	name := dest.FileName(time.Now())

	r := dest.Run(t.Context(), name, func(_ context.Context, w io.Writer) (dest.Summary, error) {
		if _, err := w.Write(randomBytes(20 << 20)); err != nil {
			return dest.Summary{}, err
		}
		return dest.Summary{}, boom
	}, dir, bucket)
	require.Equal(t, dest.Failed, r.Outcome())
	require.ErrorIs(t, r.Err(), boom)
	for _, d := range []dest.Destination{dir, bucket} {
		names, err := d.List(t.Context())
		require.NoError(t, err)
		require.Empty(t, names, "%s keeps no partial backup", d)
	}
}

func TestRunToS3(t *testing.T) {
	t.Parallel()
	fake := desttest.NewS3(t, "shop/till")
	s3, err := dest.Parse(fake.URL)
	require.NoError(t, err)
	require.NotContains(t, s3.String(), "fake", "credentials are never shown")
	dir := dest.NewDir(t.TempDir())
	// Over one 16 MiB part: a multipart upload.
	data := randomBytes(17<<20 + 5)
	name := dest.FileName(time.Date(2026, 12, 2, 3, 30, 0, 0, time.UTC))

	r := dest.Run(t.Context(), name, producer(data), s3, dir)
	require.NoError(t, r.Err())
	require.Equal(t, data, read(t, s3, name))

	small := dest.FileName(time.Date(2026, 12, 3, 3, 30, 0, 0, time.UTC))
	require.NoError(t, dest.Run(t.Context(), small, producer([]byte("tiny")), s3).Err())
	names, err := s3.List(t.Context())
	require.NoError(t, err)
	require.ElementsMatch(t, []string{name, small}, names)

	t.Run("corrupted", func(t *testing.T) {
		other := dest.FileName(time.Date(2026, 12, 4, 3, 30, 0, 0, time.UTC))
		r := dest.Run(t.Context(), other, producer(data), flipping{Destination: s3, at: 17 << 20})
		require.ErrorIs(t, r.Err(), dest.ErrMismatch)
		names, err := s3.List(t.Context())
		require.NoError(t, err)
		require.NotContains(t, names, other)
	})

	t.Run("prune", func(t *testing.T) {
		r := dest.Run(t.Context(), dest.FileName(time.Date(2026, 12, 5, 3, 30, 0, 0, time.UTC)), producer([]byte("newest")), s3, dir)
		require.NoError(t, r.Err())
		r.Prune(t.Context(), dest.Retention{Daily: 2})
		require.Equal(t, []string{name}, r.Copies[0].Pruned)
		require.Empty(t, r.Copies[1].Pruned, "the directory holds only two")
		names, err := s3.List(t.Context())
		require.NoError(t, err)
		require.ElementsMatch(t, []string{small, r.Name}, names)
	})
}

func TestParse(t *testing.T) {
	t.Parallel()
	d, err := dest.Parse("s3://KEY:SECRET@s3.example.com:9000/bucket/a/b?secure=false&region=eu-west-1")
	require.NoError(t, err)
	require.Equal(t, "s3://s3.example.com:9000/bucket/a/b", d.String())
	d, err = dest.Parse("/var/backups/till/")
	require.NoError(t, err)
	require.Equal(t, "/var/backups/till", d.String())
	for _, bad := range []string{"", "s3://KEY:SECRET@host", "s3://host/bucket?secure=maybe", "ftp://host/x"} {
		_, err := dest.Parse(bad)
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), "SECRET")
	}
}
