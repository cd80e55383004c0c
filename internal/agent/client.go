package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
)

// ErrRevoked is returned when the server says the agent's key is revoked.
// The agent stops; the machine must enroll again.
var ErrRevoked = errors.New("this agent has been revoked by the server; enroll the machine again")

// ServerError is an error answer from the server.
type ServerError struct {
	Status  int
	Code    string
	Message string
	// Refusal is the Patchring-Refusal header, when the server disclosed
	// why it refused the request.
	Refusal string
}

func (e *ServerError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("server answered %d %s: %s", e.Status, e.Code, msg)
}

// client speaks the agent protocol to one server.
type client struct {
	http *http.Client
	base *url.URL
}

func newClient(serverURL string, hc *http.Client) (*client, error) {
	u, err := url.Parse(strings.TrimRight(serverURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q must be an http(s)://host[:port] URL", serverURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("server URL %q must not carry a query, fragment or user", serverURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Minute}
	}
	return &client{http: hc, base: u}, nil
}

// signer signs a request.
type signer struct {
	keyID string
	key   ed25519.PrivateKey
	// now is the timestamp to sign with (server time).
	now time.Time
}

// post sends a signed JSON request and decodes the JSON answer into out.
// It returns the server's clock reading from the Date header (zero if
// absent) whether or not the request succeeded.
func (c *client) post(ctx context.Context, path string, s signer, in, out any) (serverTime time.Time, err error) {
	body, err := json.Marshal(in)
	if err != nil {
		return time.Time{}, fmt.Errorf("encode request: %w", err)
	}
	u := *c.base
	u.Path = c.base.Path + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return time.Time{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "patchring-agent")
	agentapi.SignRequest(req, body, s.keyID, s.key, s.now)
	resp, err := c.http.Do(req)
	if err != nil {
		return time.Time{}, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		serverTime = d
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return serverTime, fmt.Errorf("read answer to POST %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		se := &ServerError{Status: resp.StatusCode, Refusal: resp.Header.Get("Patchring-Refusal")}
		var eb agentapi.ErrorBody
		if json.Unmarshal(data, &eb) == nil {
			se.Code, se.Message = eb.Error.Code, eb.Error.Message
		}
		if se.Status == http.StatusForbidden && se.Refusal == "revoked_agent" {
			return serverTime, fmt.Errorf("%w (%s)", ErrRevoked, se.Message)
		}
		return serverTime, se
	}
	if err := agentapi.Decode(data, out); err != nil {
		return serverTime, fmt.Errorf("answer to POST %s: %w", path, err)
	}
	return serverTime, nil
}
