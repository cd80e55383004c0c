package httpapi_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/patchring/patchring/internal/patch"
	"github.com/patchring/patchring/internal/postgres"
	"github.com/patchring/patchring/internal/postgres/postgrestest"
)

// tcpProxy forwards a local port to a target; Cut drops every connection
// and stops listening, Restore listens on the same port again. It stands
// in for a database server that goes away and comes back.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, target: target}
	p.listen("127.0.0.1:0")
	t.Cleanup(p.Cut)
	return p
}

func (p *tcpProxy) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *tcpProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *tcpProxy) Restore() { p.listen(p.addr) }

func TestDatabaseGoesAwayAndComesBack(t *testing.T) {
	dsn := postgrestest.NewSchema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	db, err := postgres.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := newHarnessOn(t, db)
	h.mustCreate(h.admin, "/api/v1/clients", map[string]any{"name": "Before"}, nil)

	proxy.Cut()
	if r := h.do("", "GET", "/readyz", nil, ""); r.status != http.StatusServiceUnavailable || r.apiErr(t).Code != "unavailable" {
		t.Errorf("readyz while the database is down = %d %s", r.status, r.body)
	}
	r := h.do(h.admin, "POST", "/api/v1/clients", map[string]any{"name": "During"}, "")
	if r.status != http.StatusServiceUnavailable || r.apiErr(t).Code != "unavailable" {
		t.Errorf("write while the database is down = %d %s", r.status, r.body)
	}
	if r := h.do(h.admin, "GET", "/api/v1/assets", nil, ""); r.status != http.StatusServiceUnavailable {
		t.Errorf("read while the database is down = %d %s", r.status, r.body)
	}

	proxy.Restore()
	if r := h.do("", "GET", "/readyz", nil, ""); r.status != http.StatusOK {
		t.Errorf("readyz after the database came back = %d %s", r.status, r.body)
	}
	h.mustCreate(h.admin, "/api/v1/clients", map[string]any{"name": "After"}, nil)
	cs, _, err := h.srv.Clients(patch.NewContextWithActor(context.Background(), patch.SystemActor("t")), patch.ClientFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	if len(names) != 2 || names[0] != "After" || names[1] != "Before" {
		t.Errorf("clients = %v, want After and Before (nothing from the outage)", names)
	}
}
