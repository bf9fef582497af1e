package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// client posts GraphQL operations to one endpoint.
type client struct {
	url  string
	http *http.Client
}

// newClient returns a client whose connection pool keeps one connection
// per concurrent caller alive: with the default of two idle connections
// per host, most requests would open a new TCP connection and we would
// measure the handshake.
func newClient(url string, conns int) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns * 2
	tr.MaxIdleConnsPerHost = conns * 2
	return &client{url: url, http: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// do sends query with vars as the holder of token ("" for nobody) and
// decodes the data into out (may be nil). Any GraphQL error or an HTTP
// status other than 200 is an error; its message (codes and messages, no
// per-request detail) is what the summary groups errors by.
func (c *client) do(ctx context.Context, token, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading response: %w", err)
	}
	var res struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	jsonErr := json.Unmarshal(raw, &res)
	if len(res.Errors) > 0 {
		var msgs []string
		for _, e := range res.Errors {
			msgs = append(msgs, e.Extensions.Code+": "+e.Message)
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.Join(msgs, "; "))
	}
	if resp.StatusCode != http.StatusOK || jsonErr != nil {
		return fmt.Errorf("HTTP %d: %.200q", resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(res.Data, out); err != nil {
		return fmt.Errorf("decoding data: %w", err)
	}
	return nil
}
