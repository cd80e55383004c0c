package evidence

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"
	"time"
)

// fixtureManifest returns the parsed manifest of the standard test bundle.
func fixtureManifest(tb testing.TB, f *fixture) *Manifest {
	tb.Helper()
	for _, z := range readZip(tb, f.bundle) {
		if z.name == ManifestPath {
			m, err := parseManifest(z.data)
			if err != nil {
				tb.Fatal(err)
			}
			return m
		}
	}
	tb.Fatal("no manifest")
	return nil
}

func TestParseManifest(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		mutate  func(m *Manifest)
		wantErr string
	}{
		{"OK", func(m *Manifest) {}, ""},
		{"ErrFormat", func(m *Manifest) { m.Format = "patchring-evidence-bundle-v2" }, `unsupported bundle format "patchring-evidence-bundle-v2"`},
		{"ErrClient", func(m *Manifest) { m.ClientID = "" }, "client id is empty"},
		{"ErrPeriod", func(m *Manifest) { m.PeriodEnd = m.PeriodStart.Add(-time.Second) }, "period ends before it starts"},
		{"ErrKey", func(m *Manifest) { m.Keys = append(m.Keys, "not-a-key") }, "keys[1]"},
		{"ErrListsManifest", func(m *Manifest) { m.Files[0].Path = ManifestPath }, "cannot cover itself"},
		{"ErrDuplicatePath", func(m *Manifest) { m.Files[1].Path = strings.ToUpper(m.Files[0].Path) }, "twice"},
		{"ErrUnsafePath", func(m *Manifest) { m.Files[0].Path = "../ephi.csv" }, `contains a ".." segment`},
		{"ErrNegativeSize", func(m *Manifest) { m.Files[0].Size = -1 }, "size -1 outside"},
		{"ErrHugeSize", func(m *Manifest) { m.Files[0].Size = maxFileSize + 1 }, "outside 0 to"},
		{"ErrTotal", func(m *Manifest) {
			for i := range m.Files {
				m.Files[i].Size = maxFileSize
			}
		}, "files total more than"},
		{"ErrChainNotListed", func(m *Manifest) { m.Chain.Path = "chain.jsonl" }, `chain file "chain.jsonl" is not listed`},
		{"ErrChainBackwards", func(m *Manifest) { m.Chain.EndSize = 5 }, "ends at size 5 before it starts at 10"},
		{"ErrZeroStartHead", func(m *Manifest) { m.Chain.StartSize = 0 }, "start head is not all zeros"},
		{"ErrEmptyHeads", func(m *Manifest) { m.Chain.EndSize = 10 }, "start and end heads differ"},
		{"ErrCheckpointNotListed", func(m *Manifest) { m.Chain.Checkpoints[0] = "checkpoints/11.txt" }, `checkpoint "checkpoints/11.txt" is not listed`},
		{"ErrCheckpointTwice", func(m *Manifest) { m.Chain.Checkpoints[1] = m.Chain.Checkpoints[0] }, "listed twice"},
		{"ErrCheckpointIsChain", func(m *Manifest) { m.Chain.Checkpoints[0] = ChainPath }, "is the chain file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixtureManifest(t, f)
			tt.mutate(m)
			b, err := encodeManifest(m)
			if err != nil {
				t.Fatal(err)
			}
			_, err = parseManifest(b)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("parseManifest() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("parseManifest() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseManifest_StrictJSON(t *testing.T) {
	f := newFixture(t)
	good, err := encodeManifest(fixtureManifest(t, f))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"unknown field": bytes.Replace(good, []byte(`"generator"`), []byte(`"comment": "x",
  "generator"`), 1),
		"duplicate key": bytes.Replace(good, []byte(`"generator"`), []byte(`"client_id": "someone-else",
  "generator"`), 1),
		"case variant": bytes.Replace(good, []byte(`"generator"`), []byte(`"Client_ID": "someone-else",
  "generator"`), 1),
		"trailing object": append(bytes.Clone(good), "{}\n"...),
		"invalid UTF-8":   bytes.Replace(good, []byte("Riverside"), []byte("River\xffside"), 1),
	} {
		if _, err := parseManifest(b); err == nil {
			t.Errorf("parseManifest(%s) succeeded, want error", name)
		}
	}
}

// forge writes a bundle holding files and a manifest built from m, signed
// by key: what a buggy server could produce. File sizes and hashes in m are
// filled in from files.
func forge(tb testing.TB, key *PrivateKey, m *Manifest, files []zipFile) []byte {
	tb.Helper()
	m.Files = nil
	for _, z := range files {
		m.Files = append(m.Files, ManifestFile{Path: z.name, Size: int64(len(z.data)), SHA256: sha256.Sum256(z.data)})
	}
	manifest, err := encodeManifest(m)
	if err != nil {
		tb.Fatal(err)
	}
	sig, err := sign(manifest, key)
	if err != nil {
		tb.Fatal(err)
	}
	return writeZip(tb, append(files, zipFile{ManifestPath, manifest}, zipFile{SignaturePath, sig}))
}

// TestVerify_SignedButInconsistent covers bundles whose signature is valid
// but whose contents disagree with each other.
func TestVerify_SignedButInconsistent(t *testing.T) {
	f := newFixture(t)
	var files []zipFile
	for _, z := range readZip(t, f.bundle) {
		if z.name != ManifestPath && z.name != SignaturePath {
			files = append(files, z)
		}
	}
	replace := func(name string, data []byte) []zipFile {
		out := make([]zipFile, len(files))
		copy(out, files)
		for i := range out {
			if out[i].name == name {
				out[i].data = data
			}
		}
		return out
	}
	otherClient := MustChain(t, "clinic-other", 20)
	tests := []struct {
		name   string
		mutate func(m *Manifest)
		files  []zipFile
		want   []string
	}{
		{
			name:   "checkpoint for another client",
			mutate: func(m *Manifest) {},
			files:  replace("checkpoints/20.txt", MustCheckpoint(t, otherClient, 20, f.key)),
			want:   []string{`checkpoints/20.txt: is for client "clinic-other", not "clinic-0042"`},
		},
		{
			name:   "checkpoint outside the segment",
			mutate: func(m *Manifest) {},
			files:  replace("checkpoints/20.txt", MustCheckpoint(t, f.chain, 5, f.key)),
			want:   []string{"checkpoints/20.txt: size 5 is outside the bundle's chain (sizes 10 to 30), so it cannot be checked"},
		},
		{
			name:   "checkpoint at the start with another head",
			mutate: func(m *Manifest) {},
			files: replace("checkpoints/10.txt", func() []byte {
				c := Checkpoint{ClientID: fixtureClient, Size: 10, Head: f.chain[8].Hash, Time: t0}
				b, err := SignCheckpoint(c, f.key)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}()),
			want: []string{"checkpoints/10.txt: head at size 10 does not match the chain start in the manifest"},
		},
		{
			name:   "unreadable checkpoint",
			mutate: func(m *Manifest) {},
			files:  replace("checkpoints/10.txt", []byte("hello\n")),
			want:   []string{"checkpoints/10.txt: checkpoint: malformed signed note: no blank line before the signatures"},
		},
		{
			name:   "manifest end head differs",
			mutate: func(m *Manifest) { m.Chain.EndHead = f.chain[28].Hash },
			files:  files,
			want:   []string{"evidence-chain.jsonl: entry 30: hash differs from the chain head in the manifest"},
		},
		{
			name: "manifest chain shorter than file",
			mutate: func(m *Manifest) {
				m.Chain.EndSize, m.Chain.EndHead, m.Chain.Checkpoints = 29, f.chain[28].Hash, m.Chain.Checkpoints[:2]
			},
			files: files,
			want:  []string{"evidence-chain.jsonl: entry 30 is beyond the end of the chain in the manifest (size 29)"},
		},
		{
			name: "manifest start later than file",
			mutate: func(m *Manifest) {
				m.Chain.StartSize, m.Chain.StartHead, m.Chain.Checkpoints = 11, f.chain[10].Hash, m.Chain.Checkpoints[1:]
			},
			files: files,
			want:  []string{"evidence-chain.jsonl: entry 11: out of order (the segment starts after entry 11)"},
		},
		{
			name:   "empty chain file",
			mutate: func(m *Manifest) {},
			files:  replace(ChainPath, nil),
			want: []string{
				"evidence-chain.jsonl: entries 11–30 missing (the file holds no entries; the manifest says the chain runs to size 30)",
				"checkpoints/20.txt: entry 20 is not in evidence-chain.jsonl, so the checkpoint cannot be matched",
				"checkpoints/30.txt: entry 30 is not in evidence-chain.jsonl, so the checkpoint cannot be matched",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := fixtureManifest(t, f)
			tt.mutate(m)
			var files []zipFile
			for _, z := range tt.files {
				if m.Chain.Path == z.name || !strings.HasPrefix(z.name, checkpointDir) || slices.Contains(m.Chain.Checkpoints, z.name) {
					files = append(files, z)
				}
			}
			rep := MustVerify(t, forge(t, f.key, m, files), f.key.Public())
			got := messages(rep)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
