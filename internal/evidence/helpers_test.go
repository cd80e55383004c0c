package evidence

import (
	"archive/zip"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// t0 is the fixed time every test chain starts at.
var t0 = time.Date(2026, 10, 5, 14, 30, 0, 0, time.UTC)

// seedReader returns a deterministic source of "randomness" so that keys and
// therefore signatures (Ed25519 is deterministic) are stable in golden files.
func seedReader(seed byte) io.Reader { return bytes.NewReader(bytes.Repeat([]byte{seed}, 64)) }

// MustKey returns a deterministic signing key.
func MustKey(tb testing.TB, name string, seed byte) *PrivateKey {
	tb.Helper()
	k, err := GenerateKey(seedReader(seed), name)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// eventCycle is a plausible lifecycle, repeated to build chains.
var eventCycle = []struct {
	typ     EventType
	actor   Actor
	details map[string]string
}{
	{EventDetected, Actor{ActorAgent, "agent-7", "FRONTDESK-01"}, map[string]string{"kb": "KB5044284", "severity": "critical"}},
	{EventApproved, Actor{ActorUser, "u-12", "Dana Ortiz"}, nil},
	{EventScheduled, Actor{ActorSystem, "scheduler", ""}, map[string]string{"ring": "canary", "window": "2026-10-06T02:00Z"}},
	{EventSnapshotTaken, Actor{ActorAgent, "agent-7", "FRONTDESK-01"}, map[string]string{"restore_point": "42"}},
	{EventSent, Actor{ActorSystem, "rollout", ""}, nil},
	{EventInstalled, Actor{ActorAgent, "agent-7", "FRONTDESK-01"}, map[string]string{"exit_code": "0", "output": "Installation complete.\nReboot required."}},
	{EventRebooted, Actor{ActorAgent, "agent-7", "FRONTDESK-01"}, nil},
	{EventVerified, Actor{ActorAgent, "agent-7", "FRONTDESK-01"}, map[string]string{"scan": "2026-10-06T03:10:00Z"}},
	{EventExcepted, Actor{ActorUser, "u-12", "Dana Ortiz"}, map[string]string{"reason": "vendor EHR not certified", "ticket": "T-1009"}},
	{EventExceptionSignedOff, Actor{ActorClientContact, "c-3", "Dr. Ana Lee"}, map[string]string{"expires": "2026-12-31"}},
}

// MustChain builds a chain of n entries for client with Append.
func MustChain(tb testing.TB, client string, n int) []Entry {
	tb.Helper()
	var chain []Entry
	for i := range n {
		ev := eventCycle[i%len(eventCycle)]
		next := Entry{
			ClientID: client,
			Time:     t0.Add(time.Duration(i) * 90 * time.Second),
			Type:     ev.typ,
			Actor:    ev.actor,
			Subject:  Subject{AssetID: "asset-7", UpdateID: fmt.Sprintf("upd-%d", i/len(eventCycle)), CycleID: "2026-10"},
			Details:  ev.details,
		}
		if ev.typ == EventExcepted || ev.typ == EventExceptionSignedOff {
			next.Subject.ExceptionID = "exc-1"
		}
		var prev *Entry
		if len(chain) > 0 {
			prev = &chain[len(chain)-1]
		}
		e, err := Append(prev, next)
		if err != nil {
			tb.Fatal(err)
		}
		chain = append(chain, e)
	}
	return chain
}

// MustCheckpoint signs the checkpoint of chain at size.
func MustCheckpoint(tb testing.TB, chain []Entry, size int, key *PrivateKey) []byte {
	tb.Helper()
	c := Checkpoint{ClientID: chain[0].ClientID, Size: uint64(size), Time: t0.Add(48 * time.Hour)}
	if size > 0 {
		c.Head = chain[size-1].Hash
	}
	b, err := SignCheckpoint(c, key)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

const fixtureClient = "clinic-0042"

// fixtureFiles are the files of the standard test bundle besides the chain.
var fixtureFiles = []struct {
	path string
	data string
}{
	{"ephi-inventory.csv", "asset,hostname,os,ephi,owner\nasset-7,FRONTDESK-01,Windows 11 23H2,yes,Front desk\n"},
	{"risk-prioritization-log.csv", "date,update,severity,ephi,decision\n2026-10-05,KB5044284,critical,yes,deploy within 24h\n"},
	{"compensating-controls.csv", "exception,asset,control,owner,expires\nexc-1,asset-7,network isolation,Dr. Ana Lee,2026-12-31\n"},
	{"reports/patch-health.pdf", "%PDF-1.7\n% not a real PDF, only bytes to hash\n%%EOF\n"},
	{"reports/patch-health.csv", "os,tier,compliance\nwindows,workstation,0.97\n"},
	{"reports/patch-health.html", "<!doctype html><title>Patch Health</title><p>97%</p>\n"},
}

// fixture is a generated bundle and what went into it.
type fixture struct {
	key    *PrivateKey
	chain  []Entry // the client's whole chain; the bundle holds entries 11..30
	bundle []byte
}

func fixtureInfo() BundleInfo {
	return BundleInfo{
		ClientID:    fixtureClient,
		ClientName:  "Riverside Family Clinic",
		PeriodStart: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		PeriodEnd:   time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		GeneratedAt: time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC),
		Generator:   "patchring test",
	}
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := &fixture{key: MustKey(tb, "patchring.example-msp.com", 1), chain: MustChain(tb, fixtureClient, 30)}
	f.bundle = f.build(tb, f.key, nil)
	return f
}

// build writes a bundle holding entries 11..30 of f.chain with checkpoints
// at sizes 10, 20 and 30, signed by cpKey (f.key when nil) and the bundle by
// key.
func (f *fixture) build(tb testing.TB, key, cpKey *PrivateKey) []byte {
	tb.Helper()
	info := fixtureInfo()
	if cpKey == nil {
		cpKey = f.key
	} else {
		info.Keys = []PublicKey{cpKey.Public()}
	}
	var buf bytes.Buffer
	bw, err := NewBundleWriter(&buf, info, key)
	if err != nil {
		tb.Fatal(err)
	}
	for _, ff := range fixtureFiles {
		if err := bw.AddFile(ff.path, []byte(ff.data)); err != nil {
			tb.Fatal(err)
		}
	}
	err = bw.AddChain(ChainSegment{
		StartSize: 10,
		StartHead: f.chain[9].Hash,
		Entries:   f.chain[10:],
		Checkpoints: [][]byte{
			MustCheckpoint(tb, f.chain, 10, cpKey),
			MustCheckpoint(tb, f.chain, 20, cpKey),
			MustCheckpoint(tb, f.chain, 30, cpKey),
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := bw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// zipFile is one file of an archive, for building and rewriting archives.
type zipFile struct {
	name string
	data []byte
}

// readZip returns the files of an archive in order.
func readZip(tb testing.TB, b []byte) []zipFile {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatal(err)
	}
	var files []zipFile
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, zipFile{f.Name, data})
	}
	return files
}

// writeZip builds an archive from files.
func writeZip(tb testing.TB, files []zipFile) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write(f.data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// rewrite returns a copy of bundle with fn applied to each file; fn returns
// false to drop a file.
func rewrite(tb testing.TB, bundle []byte, fn func(f *zipFile) bool) []byte {
	tb.Helper()
	var out []zipFile
	for _, f := range readZip(tb, bundle) {
		if fn(&f) {
			out = append(out, f)
		}
	}
	return writeZip(tb, out)
}

// replaceFile returns a copy of bundle with one file's contents replaced.
func replaceFile(tb testing.TB, bundle []byte, name string, fn func([]byte) []byte) []byte {
	tb.Helper()
	found := false
	out := rewrite(tb, bundle, func(f *zipFile) bool {
		if f.name == name {
			found = true
			f.data = fn(bytes.Clone(f.data))
		}
		return true
	})
	if !found {
		tb.Fatalf("bundle has no file %s", name)
	}
	return out
}

// MustVerify verifies b, failing the test on an I/O error.
func MustVerify(tb testing.TB, b []byte, trusted ...PublicKey) *Report {
	tb.Helper()
	rep, err := Verify(bytes.NewReader(b), int64(len(b)), trusted)
	if err != nil {
		tb.Fatal(err)
	}
	return rep
}

// messages returns the findings' messages.
func messages(r *Report) []string {
	var ms []string
	for _, f := range r.Findings {
		ms = append(ms, f.Message)
	}
	return ms
}

// wantFindings checks that r's findings are exactly want, as (problem,
// message) pairs.
func wantFindings(tb testing.TB, r *Report, want ...Finding) {
	tb.Helper()
	var got []Finding
	for _, f := range r.Findings {
		got = append(got, Finding{Problem: f.Problem, Message: f.Message})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		tb.Errorf("findings mismatch (-want +got):\n%s", diff)
	}
}

// hasFinding reports whether r has a finding with problem p whose message
// contains substr.
func hasFinding(r *Report, p Problem, substr string) bool {
	for _, f := range r.Findings {
		if f.Problem == p && strings.Contains(f.Message, substr) {
			return true
		}
	}
	return false
}

// golden compares got with testdata/name, rewriting it with -update.
func golden(tb testing.TB, name string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		tb.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}
