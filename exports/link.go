package exports

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/exportchunk"
	"github.com/tillpos/till/ent/exportjob"
	"github.com/tillpos/till/ent/schema/pulid"
)

// linkKeyLabel separates the link key from every other use of the secret
// it is derived from.
const linkKeyLabel = "till exports download link v1"

// LinkKey derives the key that signs download links from secret, a key
// every replica shares (the deployment's blind-index key), with HKDF-SHA256
// under a label of its own: the links need no new key material, and
// knowing a link key reveals nothing about the secret.
func LinkKey(secret []byte) ([]byte, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, linkKeyLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the export link key: %w", err)
	}
	return key, nil
}

// Link is a signed download link of job, valid until the returned time
// (LinkTTL, or the file's expiry if sooner); ok is false while the file is
// not ready or after it expired.
func (s *Service) Link(job *ent.ExportJob) (link string, until time.Time, ok bool) {
	now := s.now()
	if job.Status != exportjob.StatusDONE || job.ExpiresAt == nil || !job.ExpiresAt.After(now) {
		return "", time.Time{}, false
	}
	until = now.Add(s.cfg.LinkTTL).Truncate(time.Second)
	if job.ExpiresAt.Before(until) {
		until = job.ExpiresAt.Truncate(time.Second)
	}
	exp := strconv.FormatInt(until.Unix(), 10)
	q := url.Values{"exp": {exp}, "sig": {s.sign(job.ID, job.MerchantID, exp)}}
	return s.baseURL + "/exports/" + url.PathEscape(string(job.ID)) + "?" + q.Encode(), until, true
}

// sign is the HMAC-SHA256 of the job, its merchant and the expiry: a link
// names one job of one merchant until one time, and changing any of them
// breaks it.
func (s *Service) sign(id, merchantID pulid.ID, exp string) string {
	m := hmac.New(sha256.New, s.key)
	fmt.Fprintf(m, "%s\x00%s\x00%s", id, merchantID, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors of Open.
var (
	// ErrLinkInvalid is a link that was not signed by us (or names no job).
	ErrLinkInvalid = errors.New("the download link is not valid")
	// ErrLinkExpired is a genuine link past its time.
	ErrLinkExpired = errors.New("the download link has expired")
	// ErrFileGone is a genuine link to a file that expired or failed.
	ErrFileGone = errors.New("the export file is no longer available")
)

// Download is an export file a link opened.
type Download struct {
	s   *Service
	Job *ent.ExportJob
}

// Open checks a download link's job ID, expiry and signature and returns
// its file: ErrLinkInvalid, ErrLinkExpired or ErrFileGone otherwise. It
// needs no viewer: the signature is the authority.
func (s *Service) Open(ctx context.Context, id, exp, sig string) (*Download, error) {
	ctx = systemCtx(ctx)
	until, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return nil, ErrLinkInvalid
	}
	job, err := s.db.ExportJob.Get(ctx, pulid.ID(id))
	if ent.IsNotFound(err) {
		return nil, ErrLinkInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("loading export job: %w", err)
	}
	if !hmac.Equal([]byte(sig), []byte(s.sign(job.ID, job.MerchantID, exp))) {
		return nil, ErrLinkInvalid
	}
	if !s.now().Before(time.Unix(until, 0)) {
		return nil, ErrLinkExpired
	}
	if job.Status != exportjob.StatusDONE {
		return nil, ErrFileGone
	}
	return &Download{s: s, Job: job}, nil
}

// Filename is what the file is saved as.
func (d *Download) Filename() string { return Filename(d.Job) }

// ContentType is the file's media type.
func (d *Download) ContentType() string { return ContentType(d.Job.Format) }

// Size is the file's length in bytes.
func (d *Download) Size() int64 { return d.Job.Bytes }

// Stream writes the file to w one chunk at a time.
func (d *Download) Stream(ctx context.Context, w io.Writer) (int64, error) {
	ctx = systemCtx(ctx)
	var written int64
	for seq := 0; ; seq++ {
		c, err := d.s.db.ExportChunk.Query().
			Where(exportchunk.JobID(d.Job.ID), exportchunk.Seq(seq)).Only(ctx)
		if ent.IsNotFound(err) {
			return written, nil
		}
		if err != nil {
			return written, fmt.Errorf("reading export chunk %d: %w", seq, err)
		}
		n, err := w.Write(c.Data)
		written += int64(n)
		if err != nil {
			return written, err
		}
	}
}
