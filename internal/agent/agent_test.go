package agent_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/patchring/patchring/internal/agent"
	"github.com/patchring/patchring/internal/agentapi"
	"github.com/patchring/patchring/internal/inventory"
	"github.com/patchring/patchring/internal/pkgmgr"
	"github.com/patchring/patchring/internal/pkgmgr/pkgmgrtest"
)

func TestEnroll(t *testing.T) {
	p := newPeer(t)
	a, opts := testAgent(t, p, pkgmgrtest.New(pkgmgr.SourceApt))
	st := a.State()
	if st.AgentID != "agt_test" || st.AssetID != "ast_test" || len(st.CommandKeys) != 1 || st.CommandKeys[0].ID != serverKeyID ||
		st.AckedInventoryHash == "" || st.NextCheckInSeconds != 300 {
		t.Errorf("state after enrollment = %+v", st)
	}
	if runtime.GOOS != "windows" {
		for path, want := range map[string]os.FileMode{opts.StateDir: 0o700, filepath.Join(opts.StateDir, "outbox"): 0o700, filepath.Join(opts.StateDir, "state.json"): 0o600} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("%s mode = %o, want %o", path, got, want)
			}
		}
	}
	t.Run("Twice", func(t *testing.T) {
		if _, err := agent.Enroll(t.Context(), opts, "https://patchring.example", "pre_secret", false); err == nil {
			t.Error("enrolling an enrolled machine without --force succeeded")
		}
		if _, err := agent.Enroll(t.Context(), opts, "https://patchring.example", "pre_secret", true); err != nil {
			t.Errorf("Enroll --force: %v", err)
		}
	})
	t.Run("BadServerURL", func(t *testing.T) {
		o := opts
		o.StateDir = t.TempDir()
		for _, u := range []string{"ftp://x", "patchring.example", "https://x/?q=1", "https://user@x"} {
			if _, err := agent.Enroll(t.Context(), o, u, "pre_secret", false); err == nil {
				t.Errorf("Enroll(%q) accepted", u)
			}
		}
	})
}

func TestRunOnce(t *testing.T) {
	p := newPeer(t)
	fake := pkgmgrtest.New(pkgmgr.SourceApt, curl)
	a, opts := testAgent(t, p, fake)
	if err := a.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	p.get(func(p *peer) {
		if len(p.checkIns) != 1 || len(p.results) != 1 || p.inventories != 0 {
			t.Fatalf("peer saw %d check-ins, %d results, %d inventories; want 1, 1, 0 (inventory unchanged since enrollment)", len(p.checkIns), len(p.results), p.inventories)
		}
		r := p.results[0]
		if r.Kind != agentapi.JobScan || r.Status != agentapi.ResultSucceeded || len(r.Scan.Missing) != 1 ||
			r.Scan.Missing[0].AvailableVersion != "8.0-1" || r.Scan.Missing[0].Source != "apt" || r.Scan.Sources[0] != "apt" {
			t.Errorf("scan result = %+v", r)
		}
	})
	if n, _ := agent.OpenOutbox(opts.StateDir, 0).Len(); n != 0 {
		t.Errorf("outbox holds %d results after delivery", n)
	}
	st, err := agent.ReadStatus(opts.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Enrolled || st.LastCheckIn.IsZero() || st.LastScan.IsZero() || st.NextCheckIn.IsZero() || st.LastError != "" {
		t.Errorf("status = %+v", st)
	}
}

func TestInventorySync(t *testing.T) {
	p := newPeer(t)
	fake := pkgmgrtest.New(pkgmgr.SourceApt)
	a, _ := testAgent(t, p, fake)
	inventories := func() int {
		var n int
		p.get(func(p *peer) { n = p.inventories })
		return n
	}
	if err := a.RunOnce(t.Context()); err != nil || inventories() != 0 {
		t.Fatalf("unchanged inventory sent: %d (%v)", inventories(), err)
	}
	fake.SetSoftware(pkgmgr.Software{Name: "openssl", Version: "3.0.15-1", Source: "dpkg"})
	if err := a.RunOnce(t.Context()); err != nil || inventories() != 1 {
		t.Fatalf("changed inventory: sent %d times (%v), want once", inventories(), err)
	}
	if err := a.RunOnce(t.Context()); err != nil || inventories() != 1 {
		t.Fatalf("acknowledged inventory sent again: %d (%v)", inventories(), err)
	}
	// The server lost it and asks: the agent answers within the same cycle.
	p.set(func(p *peer) { p.needInv = true })
	if err := a.RunOnce(t.Context()); err != nil || inventories() != 2 {
		t.Fatalf("requested inventory: sent %d (%v), want a second time", inventories(), err)
	}
	var checkIns int
	p.get(func(p *peer) { checkIns = len(p.checkIns) })
	if checkIns != 5 {
		t.Errorf("check-ins = %d, want 5 (the requested inventory took a second one)", checkIns)
	}
}

// TestInventoryRefused: a server that refuses the inventory as invalid
// still gets the check-ins and the updates.
func TestInventoryRefused(t *testing.T) {
	p := newPeer(t)
	fake := pkgmgrtest.New(pkgmgr.SourceApt, curl)
	a, _ := testAgent(t, p, fake)
	fake.SetSoftware(pkgmgr.Software{Name: "new", Version: "1", Source: "dpkg"}) // the inventory changes
	p.set(func(p *peer) { p.rejectInv = true })
	for range 2 {
		if err := a.RunOnce(t.Context()); err != nil {
			t.Fatalf("RunOnce with a refused inventory: %v", err)
		}
	}
	p.get(func(p *peer) {
		if len(p.checkIns) != 2 || len(p.results) != 2 || p.inventories != 0 {
			t.Errorf("peer saw %d check-ins, %d results, %d inventories; want 2, 2, 0", len(p.checkIns), len(p.results), p.inventories)
		}
	})
}

// TestInventoryParity keeps agentapi.Inventory in step with inventory.Host:
// the agent converts one into the other with a JSON round trip.
func TestInventoryParity(t *testing.T) {
	var h inventory.Host
	fill(reflect.ValueOf(&h).Elem())
	want, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var inv agentapi.Inventory
	if err := json.Unmarshal(want, &inv); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(inv)
	var a, b map[string]any
	_ = json.Unmarshal(want, &a)
	_ = json.Unmarshal(got, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("inventory.Host and agentapi.Inventory differ:\nhost: %s\nwire: %s", want, got)
	}
}

// fill sets every field of v to a non-zero value.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint64:
		v.SetUint(7)
	case reflect.Float64:
		v.SetFloat(7.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 10, 9, 0, 0, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}

// TestOffline stops the server for a while: results wait in the outbox,
// none is lost, and when the server is back each arrives and is removed.
func TestOffline(t *testing.T) {
	p := newPeer(t)
	fake := pkgmgrtest.New(pkgmgr.SourceApt, curl)
	a, opts := testAgent(t, p, fake)
	outbox := agent.OpenOutbox(opts.StateDir, 0)
	p.set(func(p *peer) { p.down = true })
	for i := range 3 {
		if err := a.RunOnce(t.Context()); err == nil {
			t.Fatal("RunOnce with the server down succeeded")
		}
		if n, _ := outbox.Len(); n != i+1 {
			t.Fatalf("outbox = %d after %d failed runs", n, i+1)
		}
	}
	if st := a.State(); st.LastError == "" {
		t.Error("the failure was not recorded in the state")
	}
	// The server takes the results but the answer is lost: the agent must
	// send them again, and the server recognise them.
	p.set(func(p *peer) { p.down, p.lossyAcks = false, true })
	if err := a.RunOnce(t.Context()); err == nil {
		t.Fatal("RunOnce with lost acknowledgements succeeded")
	}
	if n, _ := outbox.Len(); n != 4 {
		t.Fatalf("outbox = %d after a lost acknowledgement, want 4", n)
	}
	p.set(func(p *peer) { p.lossyAcks = false })
	if err := a.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, _ := outbox.Len(); n != 0 {
		t.Errorf("outbox = %d after the server came back", n)
	}
	p.get(func(p *peer) {
		if len(p.results) != 5 {
			t.Errorf("the server got %d distinct results, want 5", len(p.results))
		}
		for id, n := range p.received {
			if n > 2 {
				t.Errorf("result %s delivered %d times", id, n)
			}
		}
	})
	if st := a.State(); st.LastError != "" || st.OutboxDropped != 0 {
		t.Errorf("state after recovery = %+v", st)
	}
}

func TestOutboxBound(t *testing.T) {
	p := newPeer(t)
	a, opts := testAgent(t, p, pkgmgrtest.New(pkgmgr.SourceApt, curl), func(o *agent.Options) { o.OutboxSize = 3 })
	p.set(func(p *peer) { p.down = true })
	for range 5 {
		_ = a.RunOnce(t.Context())
	}
	if n, _ := agent.OpenOutbox(opts.StateDir, 0).Len(); n != 3 {
		t.Errorf("outbox = %d, want its bound 3", n)
	}
	if got := a.State().OutboxDropped; got != 2 {
		t.Errorf("OutboxDropped = %d, want 2", got)
	}
	p.set(func(p *peer) { p.down = false })
	if err := a.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The scan of the recovering cycle pushed out one more.
	p.get(func(p *peer) {
		if p.lastStatus.OutboxDropped != 3 || len(p.results) != 3 {
			t.Errorf("server saw dropped=%d and %d results; want 3 and the 3 newest", p.lastStatus.OutboxDropped, len(p.results))
		}
	})
}

func TestOutbox(t *testing.T) {
	dir := t.TempDir()
	o := agent.OpenOutbox(dir, 3)
	res := func(id string) agentapi.Result {
		return agentapi.Result{ID: id, Kind: agentapi.JobScan, Status: agentapi.ResultFailed, FinishedAt: time.Now()}
	}
	for _, id := range []string{"res-a", "res-b", "res-c"} {
		if dropped, err := o.Add(res(id)); err != nil || len(dropped) != 0 {
			t.Fatalf("Add(%s) = %v, %v", id, dropped, err)
		}
	}
	if dropped, _ := o.Add(res("res-b")); len(dropped) != 0 {
		t.Error("re-adding a queued result dropped something")
	}
	dropped, err := o.Add(res("res-d"))
	if err != nil || len(dropped) != 1 || dropped[0] != "res-a" {
		t.Fatalf("Add to a full outbox dropped %v (%v), want the oldest", dropped, err)
	}
	// A reopened outbox keeps the order.
	got, err := agent.OpenOutbox(dir, 3).Peek(10, 1<<20)
	if err != nil || len(got) != 3 || got[0].ID != "res-b" || got[2].ID != "res-d" {
		t.Fatalf("Peek = %v, %v", got, err)
	}
	if got, _ := o.Peek(10, 1); len(got) != 1 {
		t.Errorf("Peek within a tiny budget = %d results, want exactly one", len(got))
	}
	if err := o.Remove("res-b", "res-unknown"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Add(agentapi.Result{ID: "../../etc/passwd"}); err == nil {
		t.Error("an invalid result id was accepted as a file name")
	}
	if n, _ := o.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}
}

func signJob(t testing.TB, p *peer, kind agentapi.JobKind, payload any, mod func(*agentapi.Job)) agentapi.SignedJob {
	t.Helper()
	j, err := agentapi.NewJob(agentapi.NewID("job", time.Now()), "agt_test", kind, payload, time.Now(), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(&j)
	}
	raw, _ := json.Marshal(j)
	sj := agentapi.SignedJob{Job: b64(raw), KeyID: serverKeyID}
	sj.Signature = b64(ed25519.Sign(p.serverKey, append([]byte("patchring-job-v1\n"+serverKeyID+"\n"), raw...)))
	return sj
}

func TestJobs(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("hooks run /bin/echo")
	}
	p := newPeer(t)
	fake := pkgmgrtest.New(pkgmgr.SourceApt, curl)
	var rebooted time.Duration
	a, _ := testAgent(t, p, fake, func(o *agent.Options) {
		o.Hooks = map[string]agent.Hook{"snapshot": {Command: []string{"/bin/echo", "snapshot taken"}}}
		o.Reboot = func(_ context.Context, d time.Duration, _ string) error { rebooted = d; return nil }
	})
	_, rogue, _ := ed25519.GenerateKey(nil)
	valid := signJob(t, p, agentapi.JobInstall, agentapi.InstallPayload{Source: "apt", Targets: []agentapi.Target{{ID: curl.ID, Package: "curl", Version: "8.0-1"}}}, nil)
	altered := valid
	altered.Job = b64([]byte(`{"id":"job_x","agent_id":"agt_test","kind":"install","issued_at":"2026-01-01T00:00:00Z","expires_at":"2099-01-01T00:00:00Z","payload":{"source":"apt","targets":[{"id":"x","package":"evil"}]}}`))
	forged := func() agentapi.SignedJob {
		s := signJob(t, p, agentapi.JobInstall, agentapi.InstallPayload{Source: "apt", Targets: []agentapi.Target{{ID: curl.ID, Package: "curl", Version: "8.0-1"}}}, nil)
		raw := unb64(t, s.Job)
		s.Signature = b64(ed25519.Sign(rogue, append([]byte("patchring-job-v1\n"+serverKeyID+"\n"), raw...)))
		return s
	}()
	refusals := []struct {
		name     string
		job      agentapi.SignedJob
		reported bool // answered with a refused result
	}{
		{"Unsigned", agentapi.SignedJob{Job: valid.Job, KeyID: serverKeyID}, false},
		{"Altered", altered, false},
		{"SignedByAnotherKey", forged, false},
		{"UnknownKeyID", agentapi.SignedJob{Job: valid.Job, KeyID: "key_other", Signature: valid.Signature}, false},
		{"OtherAgent", signJob(t, p, agentapi.JobScan, agentapi.ScanPayload{}, func(j *agentapi.Job) { j.AgentID = "agt_other" }), false},
		{"Expired", signJob(t, p, agentapi.JobScan, agentapi.ScanPayload{}, func(j *agentapi.Job) {
			j.IssuedAt, j.ExpiresAt = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
		}), true},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			before := a.State().RefusedJobs
			var resultsBefore int
			p.set(func(p *peer) { p.jobs = []agentapi.SignedJob{tt.job}; resultsBefore = len(p.results) })
			if err := a.RunOnce(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := a.State().RefusedJobs; got != before+1 {
				t.Errorf("RefusedJobs = %d, want %d", got, before+1)
			}
			if n := len(fake.Installs()); n != 0 {
				t.Fatalf("a refused job installed something: %v", fake.Installs())
			}
			p.get(func(p *peer) {
				refused := 0
				for _, r := range p.results[resultsBefore:] {
					if r.Status == agentapi.ResultRefused {
						refused++
					}
				}
				if (refused == 1) != tt.reported {
					t.Errorf("refused results = %d, want reported=%v", refused, tt.reported)
				}
			})
		})
	}
	run := func(t *testing.T, sj agentapi.SignedJob) []agentapi.Result {
		t.Helper()
		var before int
		p.set(func(p *peer) { p.jobs = []agentapi.SignedJob{sj}; before = len(p.results) })
		if err := a.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		var out []agentapi.Result
		p.get(func(p *peer) {
			for _, r := range p.results[before:] {
				if r.JobID != "" {
					out = append(out, r)
				}
			}
		})
		return out
	}
	t.Run("Install", func(t *testing.T) {
		rs := run(t, valid)
		if len(fake.Installs()) != 1 || len(rs) != 1 || rs[0].Status != agentapi.ResultSucceeded || rs[0].Install.Items[0].ToVersion != "8.0-1" {
			t.Fatalf("install: installs %v, results %+v", fake.Installs(), rs)
		}
		// Handed out again (say the result was lost): not run twice.
		if rs := run(t, valid); len(rs) != 0 || len(fake.Installs()) != 1 {
			t.Errorf("a re-delivered job ran again: %d installs", len(fake.Installs()))
		}
	})
	t.Run("ScanJob", func(t *testing.T) {
		rs := run(t, signJob(t, p, agentapi.JobScan, agentapi.ScanPayload{Sources: []string{"apt"}}, nil))
		if len(rs) != 1 || rs[0].Kind != agentapi.JobScan || rs[0].Scan == nil || len(rs[0].Scan.Missing) != 0 {
			t.Errorf("scan job results = %+v", rs)
		}
	})
	t.Run("Hook", func(t *testing.T) {
		rs := run(t, signJob(t, p, agentapi.JobHook, agentapi.HookPayload{Name: "snapshot"}, nil))
		if len(rs) != 1 || rs[0].Status != agentapi.ResultSucceeded || rs[0].Hook.Output != "snapshot taken\n" || rs[0].Hook.ExitCode != 0 {
			t.Errorf("hook results = %+v", rs)
		}
		rs = run(t, signJob(t, p, agentapi.JobHook, agentapi.HookPayload{Name: "format-disk"}, nil))
		if len(rs) != 1 || rs[0].Status != agentapi.ResultRefused {
			t.Errorf("unconfigured hook results = %+v", rs)
		}
	})
	t.Run("Reboot", func(t *testing.T) {
		rs := run(t, signJob(t, p, agentapi.JobReboot, agentapi.RebootPayload{DelaySeconds: 0, Message: "Patching"}, nil))
		if len(rs) != 1 || rs[0].Status != agentapi.ResultSucceeded || rebooted != agent.MinRebootDelay {
			t.Errorf("reboot: delay %v, results %+v", rebooted, rs)
		}
	})
}

// TestRunBackoff runs the loop on a fake clock: it backs off exponentially
// while the server is down, then follows the server's pacing.
func TestRunBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPeer(t)
		a, _ := testAgent(t, p, pkgmgrtest.New(pkgmgr.SourceApt))
		p.set(func(p *peer) { p.down = true })
		start := time.Now()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		// Down for the first four attempts (the fourth is at 52.5s).
		time.Sleep(time.Minute)
		synctest.Wait()
		p.set(func(p *peer) { p.down = false })
		time.Sleep(19 * time.Minute)
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
		var got []time.Duration
		p.get(func(p *peer) {
			for _, c := range p.checkIns {
				got = append(got, c.Sub(start))
			}
		})
		// With Rand at 0: attempts at 0 (down), 7.5s (down), 22.5s (down),
		// 52.5s (down, 30s wait), then 112.5s (60s wait) succeeds; then every
		// 300s as the server says.
		want := []time.Duration{112500 * time.Millisecond, 412500 * time.Millisecond, 712500 * time.Millisecond, 1012500 * time.Millisecond}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("successful check-ins at %v, want %v", got, want)
		}
	})
}

func TestRevoked(t *testing.T) {
	p := newPeer(t)
	a, opts := testAgent(t, p, pkgmgrtest.New(pkgmgr.SourceApt))
	p.set(func(p *peer) { p.revoked = true })
	if err := a.Run(t.Context()); !errors.Is(err, agent.ErrRevoked) {
		t.Fatalf("Run = %v, want ErrRevoked", err)
	}
	st, _ := agent.ReadStatus(opts.StateDir)
	if !st.Revoked {
		t.Error("status does not say revoked")
	}
	b, err := agent.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.RunOnce(t.Context()); !errors.Is(err, agent.ErrRevoked) {
		t.Errorf("RunOnce after revocation = %v", err)
	}
}

func TestClockSkew(t *testing.T) {
	p := newPeer(t)
	p.offset = time.Hour // the machine's clock is an hour slow
	a, _ := testAgent(t, p, pkgmgrtest.New(pkgmgr.SourceApt))
	if err := a.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if off := a.State().ClockOffset; off < 59*time.Minute || off > 61*time.Minute {
		t.Errorf("ClockOffset = %v, want about an hour", off)
	}
}

func TestLoadHooks(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "hooks.json"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if hs, err := agent.LoadHooks(dir); err != nil || len(hs) != 0 {
		t.Errorf("LoadHooks without a file = %v, %v", hs, err)
	}
	write(`{"snapshot":{"command":["/usr/local/bin/snap","--pre"],"timeout_seconds":600}}`)
	if hs, err := agent.LoadHooks(dir); err != nil || hs["snapshot"].TimeoutSeconds != 600 {
		t.Errorf("LoadHooks = %v, %v", hs, err)
	}
	for _, bad := range []string{`{"snap shot":{"command":["/bin/true"]}}`, `{"x":{"command":["true"]}}`, `{"x":{}}`, `not json`} {
		write(bad)
		if _, err := agent.LoadHooks(dir); err == nil {
			t.Errorf("LoadHooks(%s) accepted", bad)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
