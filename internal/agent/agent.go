// Package agent is the Patchring endpoint agent: it enrolls a machine with
// a server, then checks in on the server's schedule, reports the machine's
// inventory and its missing updates, and runs the signed jobs the server
// hands out (scan, install exact versions, reboot, run a hook the machine's
// administrator configured).
//
// # Why it is shaped this way
//
// The agent runs as root or SYSTEM on machines the MSP is paid to keep safe,
// so it trusts the server as little as it can: it signs every request with a
// key that never leaves the machine, refuses jobs that are not signed by the
// server key it pinned at enrollment (or are for another agent, or expired,
// or carry fields it does not understand), and never runs text from the
// server as a command. Hooks are commands the local administrator put in the
// state directory's hooks.json; the server can only name them.
//
// Results are never lost to a network outage: every result is written to an
// on-disk outbox (see [Outbox]) before it is sent, and removed only when the
// server acknowledges its id. The server recognises ids it has seen, so
// sending a result twice is harmless. The outbox is bounded; when it is full
// the oldest results are dropped, counted and reported.
//
// The server paces the fleet: each check-in answer says when to come back
// (scaled to the fleet's size, with jitter). While the server cannot be
// reached the agent backs off exponentially, with jitter, up to
// [MaxBackoff], so a fleet does not stampede a server that comes back.
//
// Inventory collection is expensive (it lists every installed package), so
// it runs at most every [Options.InventoryInterval]; the agent sends its
// hash with every check-in and the whole inventory only when the hash
// changed, the server asks, or a day has passed. A check-in without news is a
// few hundred bytes.
//
// The package never imports the server, storage, API or console packages
// (cmd/patchring's dependency test enforces it): the agent binary's attack
// surface is the protocol in package agentapi and nothing else.
package agent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/inventory"
	"github.com/patchring/patchring/internal/pkgmgr"
)

// Defaults of Options.
const (
	DefaultInventoryInterval  = time.Hour
	DefaultFullInventoryEvery = 24 * time.Hour
	// DefaultCheckIn and DefaultScanInterval apply until the server has
	// said otherwise.
	DefaultCheckIn      = 5 * time.Minute
	DefaultScanInterval = 4 * time.Hour
	// MinBackoff and MaxBackoff bound the wait after a failed check-in.
	MinBackoff = 15 * time.Second
	MaxBackoff = 30 * time.Minute
	// MinRebootDelay leaves time to deliver a reboot job's result.
	MinRebootDelay = time.Minute
	// requestBudget keeps a request's results under the server's limit,
	// leaving room for an inventory.
	requestBudget = 4 << 20
	// scanTimeout and collectTimeout bound one backend's scan and one
	// inventory collection, so a hung tool cannot stop the check-ins.
	scanTimeout    = 30 * time.Minute
	collectTimeout = 10 * time.Minute
)

// Hook is a command the machine's administrator allows the server to run by
// name, configured in hooks.json in the state directory.
type Hook struct {
	// Command is the program and its arguments; no shell is involved.
	Command []string `json:"command"`
	// TimeoutSeconds bounds a run (10 minutes when zero).
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
}

// Options configure an agent. Only StateDir is required.
type Options struct {
	StateDir string
	// Managers are the package-manager backends. Nil means the backends
	// detected for this operating system (see Backends).
	Managers       []pkgmgr.Manager
	BackendOptions BackendOptions
	// Hooks are the hooks the server may run; nil means those of
	// hooks.json in the state directory.
	Hooks      map[string]Hook
	HTTPClient *http.Client
	// Collect collects the host inventory; nil means inventory.Collect.
	Collect func(ctx context.Context) (inventory.Host, error)
	// Reboot asks the OS to restart after delay; nil means the OS's
	// shutdown command.
	Reboot func(ctx context.Context, delay time.Duration, message string) error
	// Now is the clock (time.Now when nil); Rand returns a number in
	// [0, 1) for jitter (math/rand/v2 when nil).
	Now    func() time.Time
	Rand   func() float64
	Logger *slog.Logger
	// Version is the agent's version, sent to the server.
	Version            string
	OutboxSize         int
	InventoryInterval  time.Duration
	FullInventoryEvery time.Duration
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = mrand.Float64
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Version == "" {
		o.Version = "devel"
	}
	if o.InventoryInterval <= 0 {
		o.InventoryInterval = DefaultInventoryInterval
	}
	if o.FullInventoryEvery <= 0 {
		o.FullInventoryEvery = DefaultFullInventoryEvery
	}
	if o.Collect == nil {
		o.Collect = func(ctx context.Context) (inventory.Host, error) { return inventory.Collect(ctx, inventory.Options{}) }
	}
	if o.Reboot == nil {
		o.Reboot = osReboot
	}
}

// Agent is an enrolled agent. It is used by one goroutine at a time.
type Agent struct {
	opts     Options
	log      *slog.Logger
	state    *State
	outbox   *Outbox
	client   *client
	managers []pkgmgr.Manager
	// The last inventory collected, its hash and when.
	inv     *agentapi.Inventory
	invHash string
	invAt   time.Time
	// failures counts consecutive failed cycles, for the backoff.
	failures int
}

// New loads an enrolled agent from its state directory.
func New(opts Options) (*Agent, error) {
	opts.defaults()
	if opts.StateDir == "" {
		return nil, errors.New("no state directory")
	}
	st, err := LoadState(opts.StateDir)
	if err != nil {
		return nil, err
	}
	if !st.Enrolled() {
		return nil, fmt.Errorf("this machine is not enrolled (no agent in %s); run 'patchring agent enroll' first", opts.StateDir)
	}
	if err := PrepareDir(opts.StateDir); err != nil {
		return nil, err
	}
	c, err := newClient(st.ServerURL, opts.HTTPClient)
	if err != nil {
		return nil, err
	}
	if opts.Hooks == nil {
		if opts.Hooks, err = LoadHooks(opts.StateDir); err != nil {
			return nil, err
		}
	}
	return &Agent{
		opts:     opts,
		log:      opts.Logger.With("agent", st.AgentID),
		state:    st,
		outbox:   OpenOutbox(opts.StateDir, opts.OutboxSize),
		client:   c,
		managers: opts.Managers,
	}, nil
}

// Enroll enrolls the machine with the server at serverURL using an
// enrollment secret: it generates the agent's key pair, sends the public key
// and the inventory, and stores the agent id and the server's command keys.
// An enrolled machine enrolls again only with force (the server then revokes
// the old agent).
func Enroll(ctx context.Context, opts Options, serverURL, secret string, force bool) (*State, error) {
	opts.defaults()
	if err := PrepareDir(opts.StateDir); err != nil {
		return nil, err
	}
	old, err := LoadState(opts.StateDir)
	if err != nil && !force {
		return nil, err
	}
	if old != nil && old.Enrolled() && !old.Revoked && !force {
		return nil, fmt.Errorf("this machine is already enrolled as agent %s with %s; use --force to enroll it again", old.AgentID, old.ServerURL)
	}
	c, err := newClient(serverURL, opts.HTTPClient)
	if err != nil {
		return nil, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate agent key: %w", err)
	}
	a := &Agent{opts: opts, log: opts.Logger, state: &State{}, client: c, managers: opts.Managers}
	if err := a.collectInventory(ctx); err != nil {
		return nil, err
	}
	req := agentapi.EnrollRequest{
		ProtocolVersion: agentapi.ProtocolVersion,
		AgentVersion:    opts.Version,
		Secret:          secret,
		PublicKey:       agentapi.EncodePublicKey(pub),
		Inventory:       *a.inv,
		InventoryHash:   a.invHash,
	}
	var resp agentapi.EnrollResponse
	if err := a.post(ctx, agentapi.PathEnroll, signer{keyID: agentapi.EnrollKeyID, key: priv}, req, &resp); err != nil {
		return nil, fmt.Errorf("enroll with %s: %w", serverURL, err)
	}
	st := &State{
		ServerURL:           c.base.String(),
		AgentID:             resp.AgentID,
		AssetID:             resp.AssetID,
		ClientID:            resp.ClientID,
		EnrolledAt:          a.opts.Now().UTC(),
		PrivateKey:          base64.StdEncoding.EncodeToString(priv.Seed()),
		AckedInventoryHash:  a.invHash,
		LastFullInventory:   a.opts.Now().UTC(),
		NextCheckInSeconds:  resp.NextCheckInSeconds,
		ScanIntervalSeconds: resp.ScanIntervalSeconds,
		ClockOffset:         a.state.ClockOffset,
	}
	if old != nil {
		st.OutboxDropped = old.OutboxDropped // the outbox carries over
	}
	for _, k := range resp.CommandKeys {
		if _, err := agentapi.ParsePublicKey(k.PublicKey); err == nil && agentapi.ValidID(k.ID) {
			st.CommandKeys = append(st.CommandKeys, k)
		}
	}
	if !agentapi.ValidID(resp.AgentID) || len(st.CommandKeys) == 0 {
		return nil, errors.New("the server's enrollment answer has no agent id or no usable command key")
	}
	if err := SaveState(opts.StateDir, st); err != nil {
		return nil, err
	}
	return st, nil
}

// State returns a copy of the agent's state.
func (a *Agent) State() State { return *a.state }

// RunOnce runs one full cycle: a scan, a fresh inventory, a check-in (a
// second one if the server asks for the inventory), the jobs handed out,
// and delivery of everything in the outbox.
func (a *Agent) RunOnce(ctx context.Context) error {
	return a.cycle(ctx, true)
}

// Run checks in on the server's schedule until ctx is done or the agent is
// revoked. Failed cycles are retried with exponential backoff.
func (a *Agent) Run(ctx context.Context) error {
	next := a.firstDelay()
	for {
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		err := a.cycle(ctx, false)
		switch {
		case errors.Is(err, ErrRevoked):
			a.log.ErrorContext(ctx, "agent revoked; stopping", "err", err)
			return err
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			next = a.backoff()
			a.log.WarnContext(ctx, "check-in failed; backing off", "err", err, "retry_in", next.Round(time.Second), "failures", a.failures)
		default:
			a.failures = 0
			next = a.nextCheckIn()
		}
	}
}

// firstDelay is the wait before the first check-in after a start: when
// the last check-in is recent, until it is due; otherwise a short random
// delay, so a fleet restarted together does not arrive together.
func (a *Agent) firstDelay() time.Duration {
	interval := a.interval()
	if !a.state.LastCheckIn.IsZero() {
		due := a.state.LastCheckIn.Add(interval).Sub(a.opts.Now())
		if due > 0 && due <= interval {
			return due
		}
	}
	return time.Duration(a.opts.Rand() * float64(min(interval, 30*time.Second)))
}

func (a *Agent) interval() time.Duration {
	if a.state.NextCheckInSeconds > 0 {
		return time.Duration(a.state.NextCheckInSeconds) * time.Second
	}
	return DefaultCheckIn
}

// nextCheckIn is the server's interval (which already carries the server's
// jitter) plus a little of the agent's own.
func (a *Agent) nextCheckIn() time.Duration {
	d := a.interval()
	return d + time.Duration(a.opts.Rand()*float64(d/20))
}

// backoff returns the wait after one more failure: doubling from
// MinBackoff up to MaxBackoff, each wait drawn from its upper half.
func (a *Agent) backoff() time.Duration {
	a.failures++
	d := MinBackoff
	for i := 1; i < a.failures && d < MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, MaxBackoff)
	return d/2 + time.Duration(a.opts.Rand()*float64(d/2))
}

// serverNow is the current time on the server's clock.
func (a *Agent) serverNow() time.Time { return a.opts.Now().Add(a.state.ClockOffset) }

func (a *Agent) scanInterval() time.Duration {
	if a.state.ScanIntervalSeconds > 0 {
		return time.Duration(a.state.ScanIntervalSeconds) * time.Second
	}
	return DefaultScanInterval
}

// cycle is one check-in cycle; once forces the scan and the inventory
// collection.
func (a *Agent) cycle(ctx context.Context, once bool) (err error) {
	defer func() {
		if err != nil && ctx.Err() == nil {
			a.state.LastError, a.state.LastErrorAt = truncate(err.Error(), 2000), a.opts.Now().UTC()
		}
		if serr := SaveState(a.opts.StateDir, a.state); serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	if a.state.Revoked {
		return ErrRevoked
	}
	// Inventory first: it tells the backends which product they serve.
	if once || a.inv == nil || a.opts.Now().Sub(a.invAt) >= a.opts.InventoryInterval {
		if err := a.collectInventory(ctx); err != nil {
			// Check in anyway: the updates matter more than the facts.
			a.log.WarnContext(ctx, "inventory collection failed", "err", err)
		}
	}
	if once || a.opts.Now().Sub(a.state.LastScan) >= a.scanInterval() {
		r := a.scan(ctx, nil, "")
		if err := a.queue(ctx, r); err != nil {
			return err
		}
	}
	resp, err := a.checkIn(ctx)
	if err != nil {
		return err
	}
	a.state.LastError = ""
	a.runJobs(ctx, resp.Jobs)
	return a.flush(ctx)
}

// queue puts a result in the outbox, counting what a full outbox dropped.
func (a *Agent) queue(ctx context.Context, r agentapi.Result) error {
	dropped, err := a.outbox.Add(r)
	if len(dropped) > 0 {
		a.state.OutboxDropped += int64(len(dropped))
		a.log.WarnContext(ctx, "outbox full; dropped the oldest results", "dropped", dropped, "dropped_total", a.state.OutboxDropped)
	}
	if err != nil {
		return fmt.Errorf("queue result %s: %w", r.ID, err)
	}
	return nil
}

// post sends a signed request. A refusal for clock skew is retried once
// with the offset the server's Date header implies.
func (a *Agent) post(ctx context.Context, path string, s signer, in, out any) error {
	if s.key == nil {
		key, err := a.state.key()
		if err != nil {
			return err
		}
		s.keyID, s.key = a.state.AgentID, key
	}
	for try := 0; ; try++ {
		s.now = a.serverNow()
		sent := a.opts.Now()
		serverTime, err := a.client.post(ctx, path, s, in, out)
		if !serverTime.IsZero() {
			a.observeClock(sent, serverTime)
		}
		if se, ok := errors.AsType[*ServerError](err); ok && se.Refusal == "clock_skew" && try == 0 {
			continue
		}
		if errors.Is(err, ErrRevoked) {
			a.state.Revoked = true
		}
		return err
	}
}

// observeClock adopts the server's clock when the machine's is off by more
// than the Date header's resolution can explain.
func (a *Agent) observeClock(sent, server time.Time) {
	off := server.Sub(sent).Round(time.Second)
	if off > -10*time.Second && off < 10*time.Second {
		off = 0
	}
	if off != a.state.ClockOffset {
		a.log.Info("adjusting to the server's clock", "offset", off)
		a.state.ClockOffset = off
	}
}

// checkIn reports to the server, sending the inventory when it changed or
// was asked for, and results from the outbox. It checks in a second time at
// once when the server asks for an inventory it did not get.
func (a *Agent) checkIn(ctx context.Context) (*agentapi.CheckInResponse, error) {
	for attempt := 0; ; attempt++ {
		now := a.opts.Now().UTC()
		sendInv := a.inv != nil && a.invHash != a.state.RejectedInventoryHash &&
			(a.invHash != a.state.AckedInventoryHash || a.state.InventoryRequested || now.Sub(a.state.LastFullInventory) >= a.opts.FullInventoryEvery)
		results, err := a.outbox.Peek(agentapi.MaxResultsPerRequest, requestBudget)
		if err != nil {
			return nil, err
		}
		queued, _ := a.outbox.Len()
		queued -= len(results) // the backlog beyond this delivery
		hash := a.invHash
		if hash == "" {
			hash = a.state.AckedInventoryHash
		}
		req := agentapi.CheckInRequest{
			ProtocolVersion: agentapi.ProtocolVersion,
			AgentVersion:    a.opts.Version,
			InventoryHash:   hash,
			Results:         results,
			Status: agentapi.AgentStatus{
				OutboxLength: queued, OutboxDropped: a.state.OutboxDropped, LastError: a.state.LastError,
				LastScanAt: a.state.LastScan, RefusedJobs: a.state.RefusedJobs,
			},
		}
		if sendInv {
			req.Inventory = a.inv
		}
		var resp agentapi.CheckInResponse
		if err := a.post(ctx, agentapi.PathCheckIn, signer{}, req, &resp); err != nil {
			if se, ok := errors.AsType[*ServerError](err); ok && se.Status == http.StatusBadRequest && sendInv && attempt == 0 {
				// An inventory this server cannot take must not stop the
				// check-ins (and with them the updates): go on without it.
				a.log.WarnContext(ctx, "the server refused the inventory; checking in without it", "err", err)
				a.state.RejectedInventoryHash = a.invHash
				continue
			}
			return nil, err
		}
		a.state.LastCheckIn = now
		if resp.NextCheckInSeconds > 0 {
			a.state.NextCheckInSeconds = resp.NextCheckInSeconds
		}
		if resp.ScanIntervalSeconds > 0 {
			a.state.ScanIntervalSeconds = resp.ScanIntervalSeconds
		}
		if err := a.settle(ctx, resp.Acknowledged, resp.Rejected); err != nil {
			return nil, err
		}
		if sendInv && !resp.InventoryNeeded {
			a.state.AckedInventoryHash, a.state.LastFullInventory, a.state.InventoryRequested = a.invHash, now, false
		}
		a.state.InventoryRequested = resp.InventoryNeeded
		if resp.InventoryNeeded && !sendInv && a.inv != nil && attempt == 0 {
			continue
		}
		return &resp, nil
	}
}

// settle removes acknowledged and rejected results from the outbox.
func (a *Agent) settle(ctx context.Context, acked []string, rejected []agentapi.Rejection) error {
	ids := slices.Clone(acked)
	for _, r := range rejected {
		a.log.WarnContext(ctx, "server rejected a result; dropping it", "result", r.ID, "reason", r.Reason)
		ids = append(ids, r.ID)
	}
	return a.outbox.Remove(ids...)
}

// flush delivers what is left in the outbox, in batches.
func (a *Agent) flush(ctx context.Context) error {
	for {
		batch, err := a.outbox.Peek(agentapi.MaxResultsPerRequest, requestBudget)
		if err != nil || len(batch) == 0 {
			return err
		}
		var resp agentapi.ResultsResponse
		err = a.post(ctx, agentapi.PathResults, signer{}, agentapi.ResultsRequest{ProtocolVersion: agentapi.ProtocolVersion, Results: batch}, &resp)
		if se, ok := errors.AsType[*ServerError](err); ok && se.Status == http.StatusRequestEntityTooLarge && len(batch) == 1 {
			// A result the server will never take: keeping it would block
			// every result behind it.
			a.state.OutboxDropped++
			a.log.WarnContext(ctx, "result too large for the server; dropping it", "result", batch[0].ID)
			if err := a.outbox.Remove(batch[0].ID); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if len(resp.Acknowledged)+len(resp.Rejected) == 0 {
			return errors.New("the server acknowledged none of the delivered results")
		}
		if err := a.settle(ctx, resp.Acknowledged, resp.Rejected); err != nil {
			return err
		}
	}
}

// collectInventory collects the host inventory plus the software the
// package managers list, and remembers it with its hash.
func (a *Agent) collectInventory(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, collectTimeout)
	defer cancel()
	host, err := a.opts.Collect(cctx)
	if err != nil {
		return fmt.Errorf("collect inventory: %w", err)
	}
	for _, m := range a.backends(ctx, &host) {
		sl, ok := m.(pkgmgr.SoftwareLister)
		if !ok {
			continue
		}
		sw, err := sl.InstalledSoftware(cctx)
		if err != nil {
			host.Problems = append(host.Problems, fmt.Sprintf("%s: list installed software: %v", m.Source(), truncate(err.Error(), 500)))
			continue
		}
		host.Software = append(host.Software, sw...)
	}
	inv, err := wireInventory(host)
	if err != nil {
		return err
	}
	inv.CollectedAt = a.opts.Now().UTC()
	a.inv, a.invHash, a.invAt = inv, host.Hash(), a.opts.Now()
	return nil
}

// wireInventory converts a collected host to the wire form. The two types
// have the same JSON shape (a test keeps them in step).
func wireInventory(h inventory.Host) (*agentapi.Inventory, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode inventory: %w", err)
	}
	var inv agentapi.Inventory
	if err := json.Unmarshal(b, &inv); err != nil {
		return nil, fmt.Errorf("convert inventory: %w", err)
	}
	return &inv, nil
}

// backends returns the package-manager backends, choosing them on first
// use (host, when known, names the product updates apply to).
func (a *Agent) backends(ctx context.Context, host *inventory.Host) []pkgmgr.Manager {
	if a.managers == nil {
		opts := a.opts.BackendOptions
		if opts.Product == "" && host != nil {
			opts.Product = host.OS.Name
		}
		ms, notes := Backends(opts)
		for _, n := range notes {
			a.log.InfoContext(ctx, "package manager", "note", n)
		}
		a.managers = ms
		if a.managers == nil {
			a.managers = []pkgmgr.Manager{}
		}
	}
	return a.managers
}

// scan runs every backend (or those named in only) and returns the result.
func (a *Agent) scan(ctx context.Context, only []string, jobID string) agentapi.Result {
	start := a.opts.Now().UTC()
	rep := &agentapi.ScanReport{Sources: []string{}, Missing: []agentapi.Update{}}
	var reboot *bool
	ran := 0
	for _, m := range a.backends(ctx, nil) {
		src := string(m.Source())
		if len(only) > 0 && !slices.Contains(only, src) {
			continue
		}
		ran++
		sctx, cancel := context.WithTimeout(ctx, scanTimeout)
		ups, err := m.Scan(sctx)
		cancel()
		if err != nil {
			if rep.Failed == nil {
				rep.Failed = map[string]string{}
			}
			rep.Failed[src] = truncate(err.Error(), 4000)
			a.log.WarnContext(ctx, "scan failed", "source", src, "err", err)
		} else {
			rep.Sources = append(rep.Sources, src)
			for _, u := range ups {
				rep.Missing = append(rep.Missing, wireUpdate(src, u))
			}
		}
		if rr, ok := m.(pkgmgr.RebootReporter); ok {
			if need, err := rr.RebootRequired(ctx); err == nil {
				reboot = ptr(need || (reboot != nil && *reboot))
			}
		}
	}
	rep.RebootRequired = reboot
	r := agentapi.Result{ID: agentapi.NewID("res", a.opts.Now()), JobID: jobID, Kind: agentapi.JobScan, StartedAt: start,
		FinishedAt: a.opts.Now().UTC(), Scan: rep}
	switch {
	case ran == 0:
		r.Status, r.Scan, r.Error = agentapi.ResultFailed, nil, "no package manager backend on this machine can scan"
	case len(rep.Failed) == ran:
		r.Status, r.Error = agentapi.ResultFailed, "every scan source failed"
	case len(rep.Failed) > 0:
		r.Status = agentapi.ResultPartial
	default:
		r.Status = agentapi.ResultSucceeded
	}
	a.state.LastScan = r.FinishedAt
	return r
}

func wireUpdate(src string, u pkgmgr.Update) agentapi.Update {
	if u.Source != "" {
		src = string(u.Source)
	}
	return agentapi.Update{
		Source: src, ID: u.ID, Package: u.Package, Title: u.Title, Product: u.Product,
		InstalledVersion: u.InstalledVersion, AvailableVersion: u.AvailableVersion,
		Classification: string(u.Classification), VendorClassification: u.VendorClassification, VendorSeverity: u.VendorSeverity,
		Advisory: u.Advisory, KBs: u.KBs, CVEs: u.CVEs, CVSS: u.CVSS, KnownExploited: u.KnownExploited, Origin: u.Origin,
		ReleaseDate: u.ReleaseDate, Size: u.Size, RebootRequired: u.RebootRequired, Supersedes: u.Supersedes,
	}
}

func ptr[T any](v T) *T { return &v }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
