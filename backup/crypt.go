package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/tillpos/till/config"
	"github.com/tillpos/till/db"
)

// Keys encrypt and decrypt backups.
type Keys struct {
	recipients []age.Recipient
	identities []age.Identity
}

// ErrNoKey is returned when no key was configured for what was asked.
var ErrNoKey = errors.New("no backup key: set TILL_BACKUP_PASSPHRASE(_FILE), or TILL_BACKUP_RECIPIENTS(_FILE) to write and TILL_BACKUP_IDENTITY_FILE to read")

// ErrWrongKey is returned when a backup was not encrypted to the keys given.
var ErrWrongKey = errors.New("backup was encrypted with another key or passphrase")

// scryptWorkFactor is age's default (about a second and 256 MiB, once per
// file); tests lower it.
var scryptWorkFactor = 18

// LoadKeys returns the backup keys cfg names. A passphrase both encrypts
// and decrypts; recipients (age public keys) only encrypt, so a server
// that writes scheduled backups need not hold what reads them. With none
// named, development uses (and on first use generates) an age key in
// till.backup-key.txt beside the key file; production has no default.
func LoadKeys(cfg config.Config, log *slog.Logger) (Keys, error) {
	if cfg.BackupKeys.Set() {
		return NewKeys(cfg.BackupKeys)
	}
	if cfg.Production {
		return Keys{}, ErrNoKey
	}
	path := filepath.Join(filepath.Dir(cfg.KeysFile), "till.backup-key.txt")
	created, err := devKey(path)
	if err != nil {
		return Keys{}, err
	}
	if created {
		log.Warn("generated a development backup key; keep a copy of it apart from the backups, and set TILL_BACKUP_RECIPIENTS in production", "file", path)
	}
	k, err := NewKeys(config.BackupKeys{IdentityFile: path})
	if err != nil {
		return k, err
	}
	for _, id := range k.identities {
		if x, ok := id.(*age.X25519Identity); ok {
			k.recipients = append(k.recipients, x.Recipient())
		}
	}
	return k, nil
}

// devKey makes an age identity file at path unless one is there.
func devKey(path string) (created bool, err error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("creating the development backup key: %w", err)
	}
	_, err = fmt.Fprintf(f, "# Till development backup key (age). Restoring a backup needs it.\n# public key: %s\n%s\n", id.Recipient(), id)
	return true, errors.Join(err, f.Sync(), f.Close())
}

// NewKeys reads the keys src names.
func NewKeys(src config.BackupKeys) (Keys, error) {
	var k Keys
	pass := src.Passphrase
	if src.PassphraseFile != "" {
		b, err := os.ReadFile(src.PassphraseFile)
		if err != nil {
			return k, fmt.Errorf("reading the backup passphrase file: %w", err)
		}
		pass = strings.TrimRight(string(b), "\r\n")
	}
	if pass != "" {
		if len(src.Recipients) > 0 || src.RecipientsFile != "" {
			return k, errors.New("give a backup passphrase or recipients, not both")
		}
		r, err := age.NewScryptRecipient(pass)
		if err != nil {
			return k, err
		}
		r.SetWorkFactor(scryptWorkFactor)
		id, err := age.NewScryptIdentity(pass)
		if err != nil {
			return k, err
		}
		k.recipients, k.identities = []age.Recipient{r}, []age.Identity{id}
		return k, nil
	}
	if len(src.Recipients) > 0 {
		rs, err := age.ParseRecipients(strings.NewReader(strings.Join(src.Recipients, "\n")))
		if err != nil {
			return k, fmt.Errorf("backup recipients: %w", err)
		}
		k.recipients = rs
	}
	if src.RecipientsFile != "" {
		rs, err := parseFile(src.RecipientsFile, age.ParseRecipients)
		if err != nil {
			return k, fmt.Errorf("backup recipients file: %w", err)
		}
		k.recipients = append(k.recipients, rs...)
	}
	if src.IdentityFile != "" {
		ids, err := parseFile(src.IdentityFile, age.ParseIdentities)
		if err != nil {
			return k, fmt.Errorf("backup identity file: %w", err)
		}
		k.identities = ids
	}
	return k, nil
}

func parseFile[T any](path string, parse func(io.Reader) ([]T, error)) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f)
}

// CanWrite reports whether k can encrypt a backup.
func (k Keys) CanWrite() bool { return len(k.recipients) > 0 }

// Encrypt returns a writer that compresses (zstd) and encrypts (age) onto
// w; Close finishes the file.
func Encrypt(w io.Writer, k Keys) (io.WriteCloser, error) {
	if len(k.recipients) == 0 {
		return nil, ErrNoKey
	}
	enc, err := age.Encrypt(w, k.recipients...)
	if err != nil {
		return nil, fmt.Errorf("encrypting backup: %w", err)
	}
	z, err := zstd.NewWriter(enc)
	if err != nil {
		return nil, err
	}
	return &sealer{z: z, enc: enc}, nil
}

type sealer struct {
	z   *zstd.Encoder
	enc io.WriteCloser
}

func (s *sealer) Write(p []byte) (int, error) { return s.z.Write(p) }

func (s *sealer) Close() error {
	return errors.Join(s.z.Close(), s.enc.Close())
}

// Decrypt returns the plain stream of the backup r. A wrong key fails
// here; damage to the content fails while reading, as ErrDamaged.
func Decrypt(r io.Reader, k Keys) (io.ReadCloser, error) {
	if len(k.identities) == 0 {
		return nil, ErrNoKey
	}
	plain, err := age.Decrypt(r, k.identities...)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return nil, ErrWrongKey
		}
		return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	z, err := zstd.NewReader(damageReader{plain})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return z.IOReadCloser(), nil
}

// damageReader marks any failure to read the decrypted payload (a chunk
// that fails authentication, a cut-off file) as damage.
type damageReader struct{ r io.Reader }

func (d damageReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return n, err
}

// Create writes an encrypted backup of d to w.
func Create(ctx context.Context, d *db.DB, w io.Writer, k Keys, opts Options) (Manifest, error) {
	sealed, err := Encrypt(w, k)
	if err != nil {
		return Manifest{}, err
	}
	m, err := Dump(ctx, d, sealed, opts)
	if cerr := sealed.Close(); err == nil {
		err = cerr
	}
	return m, err
}

// Restore reads the encrypted backup r into d (see Load).
func Restore(ctx context.Context, d *db.DB, r io.Reader, k Keys, opts RestoreOptions) (Manifest, error) {
	plain, err := Decrypt(r, k)
	if err != nil {
		return Manifest{}, err
	}
	defer plain.Close()
	return Load(ctx, d, plain, opts)
}

// Verify restores the backup r into scratch, an empty database with the
// backup's schema, and dumps it again: every table must come back with
// the count and checksum the manifest holds.
func Verify(ctx context.Context, scratch *db.DB, r io.Reader, k Keys, schemaVersion string) (Manifest, error) {
	m, err := Restore(ctx, scratch, r, k, RestoreOptions{SchemaVersion: schemaVersion})
	if err != nil {
		return m, err
	}
	again, err := Dump(ctx, scratch, io.Discard, Options{})
	if err != nil {
		return m, fmt.Errorf("reading the restored copy: %w", err)
	}
	have := make(map[string]TableSum, len(again.Tables))
	for _, t := range again.Tables {
		have[t.Name] = t
	}
	for _, t := range m.Tables {
		if have[t.Name] != t {
			return m, fmt.Errorf("%w: table %s restored as %d rows (%s), the backup holds %d (%s)",
				ErrDamaged, t.Name, have[t.Name].Rows, have[t.Name].SHA256, t.Rows, t.SHA256)
		}
	}
	return m, nil
}
