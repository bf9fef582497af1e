// Package desttest gives tests an S3-compatible store in the process.
package desttest

import (
	"crypto/rand"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3 is a fake S3 served over HTTP for one test.
type S3 struct {
	// URL is a destination URL (credentials, bucket, prefix) for dest.Parse.
	URL string
	// Server stops answering when closed (a destination that is down).
	Server *httptest.Server
}

// NewS3 starts a fake S3 with one bucket and returns a destination URL for
// it, with the prefix given.
func NewS3(t testing.TB, prefix string) *S3 {
	t.Helper()
	backend := s3mem.New()
	bucket := "backups-" + strings.ToLower(rand.Text()[:8])
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatalf("creating fake bucket: %v", err)
	}
	ts := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(ts.Close)
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	dest := url.URL{Scheme: "s3", User: url.UserPassword("AKFAKE", "fake/secret+key"), Host: u.Host,
		Path: "/" + bucket + "/" + prefix, RawQuery: "secure=false&region=us-east-1"}
	return &S3{URL: dest.String(), Server: ts}
}
