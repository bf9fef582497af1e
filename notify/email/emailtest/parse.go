package emailtest

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
)

// Parsed is an accepted message as a reader sees it.
type Parsed struct {
	Header mail.Header
	// Subject is decoded (RFC 2047), so non-ASCII subjects read as written.
	Subject string
	// Text and HTML are the decoded text/plain and text/html parts.
	Text, HTML string
}

// Parse reads a message with net/mail and mime/multipart, failing the test
// if it is not well formed.
func Parse(t testing.TB, data []byte) Parsed {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("reading message: %v", err)
	}
	p := Parsed{Header: m.Header}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Fatalf("decoding subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		p.put(t, mt, m.Header.Get("Content-Transfer-Encoding"), m.Body)
		return p
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			return p
		}
		if err != nil {
			t.Fatalf("reading part: %v", err)
		}
		pt, _, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if err != nil {
			t.Fatalf("part content type: %v", err)
		}
		p.put(t, pt, part.Header.Get("Content-Transfer-Encoding"), part)
	}
}

func (p *Parsed) put(t testing.TB, mediaType, encoding string, r io.Reader) {
	t.Helper()
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s part: %v", mediaType, err)
	}
	switch mediaType {
	case "text/plain":
		p.Text = string(b)
	case "text/html":
		p.HTML = string(b)
	}
}
