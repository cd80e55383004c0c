// Package apiclient is a small client for Patchring's JSON API, used by the
// CLI's remote commands. Errors from the server come back as *patch.Error
// with the server's kind, message and field, so the CLI can print exactly
// what the API said.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/patch"
)

// Client calls one Patchring server.
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
}

// New returns a client for the server at base (e.g. https://patch.example).
func New(base, token string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q must look like https://patchring.example.com", base)
	}
	return &Client{BaseURL: strings.TrimRight(base, "/"), Token: token, HTTP: &http.Client{Timeout: 5 * time.Minute}}, nil
}

var kinds = map[string]patch.Kind{}

func init() {
	for k := patch.KindInternal; k <= patch.KindTooLarge; k++ {
		kinds[k.String()] = k
	}
}

// Response is a raw response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends a request. body may be nil, an io.Reader (sent as is with
// contentType) or a value to encode as JSON. Non-2xx responses become
// *patch.Error.
func (c *Client) Do(ctx context.Context, method, path string, body any, contentType string) (*Response, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case io.Reader:
		r = b
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		r = bytes.NewReader(data)
		contentType = "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, r)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, patch.WrapError(err, patch.KindUnavailable, "Cannot reach the Patchring server at %s.", c.BaseURL)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode >= 300 {
		var eb struct {
			Error struct{ Code, Message, Field string } `json:"error"`
		}
		if json.Unmarshal(data, &eb) == nil && eb.Error.Message != "" {
			k, ok := kinds[eb.Error.Code]
			if !ok {
				k = patch.KindInvalid
			}
			return nil, &patch.Error{Kind: k, Message: eb.Error.Message, Field: eb.Error.Field}
		}
		return nil, patch.Errorf(patch.KindInternal, "The server answered %s.", resp.Status)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// JSON sends a request and decodes a JSON response into out (if not nil).
func (c *Client) JSON(ctx context.Context, method, path string, in, out any) error {
	resp, err := c.Do(ctx, method, path, in, "")
	if err != nil {
		return err
	}
	if out == nil || len(resp.Body) == 0 {
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return fmt.Errorf("decode response of %s %s: %w", method, path, err)
	}
	return nil
}
