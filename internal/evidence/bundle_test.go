package evidence

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBundle_RoundTrip(t *testing.T) {
	f := newFixture(t)
	rep := MustVerify(t, f.bundle, f.key.Public())
	if !rep.OK() {
		t.Fatalf("Verify() findings: %q", messages(rep))
	}
	if got, want := rep.SignedBy, []KeyID{f.key.Public().ID()}; !slices.Equal(got, want) {
		t.Errorf("SignedBy = %v, want %v", got, want)
	}
	var sizes []uint64
	for _, c := range rep.Checkpoints {
		sizes = append(sizes, c.Size)
	}
	if want := []uint64{10, 20, 30}; !slices.Equal(sizes, want) {
		t.Errorf("verified checkpoint sizes = %v, want %v", sizes, want)
	}
	m := rep.Manifest
	if m.ClientID != fixtureClient || m.Chain.StartSize != 10 || m.Chain.EndSize != 30 || m.Chain.EndHead != f.chain[29].Hash {
		t.Errorf("manifest = client %q chain %d..%d head %s; want %q 10..30 %s",
			m.ClientID, m.Chain.StartSize, m.Chain.EndSize, m.Chain.EndHead, fixtureClient, f.chain[29].Hash)
	}
	var paths []string
	for _, mf := range m.Files {
		paths = append(paths, mf.Path)
	}
	want := []string{
		"ephi-inventory.csv", "risk-prioritization-log.csv", "compensating-controls.csv",
		"reports/patch-health.pdf", "reports/patch-health.csv", "reports/patch-health.html",
		"evidence-chain.jsonl", "checkpoints/10.txt", "checkpoints/20.txt", "checkpoints/30.txt",
	}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("manifest files (-want +got):\n%s", diff)
	}
	// The key is found whether the auditor trusts only it or a longer list.
	other := MustKey(t, "unrelated", 9).Public()
	if rep := MustVerify(t, f.bundle, other, f.key.Public()); !rep.OK() {
		t.Errorf("Verify(with extra trusted key) findings: %q", messages(rep))
	}
}

// TestBundle_Golden pins the text files of a bundle: the manifest, its
// signature, the chain and a checkpoint. They double as the worked example
// in docs/evidence-format.md.
func TestBundle_Golden(t *testing.T) {
	f := newFixture(t)
	for _, zf := range readZip(t, f.bundle) {
		switch zf.name {
		case ManifestPath, SignaturePath, ChainPath, "checkpoints/30.txt":
			golden(t, "bundle/"+zf.name, zf.data)
		}
	}
	golden(t, "bundle/public-key.txt", []byte(f.key.Public().String()+"\n"))
}

func TestBundle_Deterministic(t *testing.T) {
	f := newFixture(t)
	if again := f.build(t, f.key, nil); !bytes.Equal(again, f.bundle) {
		t.Error("building the same bundle twice gave different bytes")
	}
}

func TestBundle_EmptySegment(t *testing.T) {
	key := MustKey(t, "msp", 1)
	chain := MustChain(t, fixtureClient, 5)
	var buf bytes.Buffer
	bw, err := NewBundleWriter(&buf, fixtureInfo(), key)
	if err != nil {
		t.Fatal(err)
	}
	err = bw.AddChain(ChainSegment{StartSize: 5, StartHead: chain[4].Hash, Checkpoints: [][]byte{MustCheckpoint(t, chain, 5, key)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	if rep := MustVerify(t, buf.Bytes(), key.Public()); !rep.OK() || len(rep.Checkpoints) != 1 {
		t.Errorf("Verify(empty segment) findings %q, %d checkpoints; want none and 1", messages(rep), len(rep.Checkpoints))
	}
}

// TestVerify_TamperEveryFile changes one byte of every file in turn, at the
// start, middle and end, and checks the finding that names it.
func TestVerify_TamperEveryFile(t *testing.T) {
	f := newFixture(t)
	trusted := f.key.Public()
	for _, zf := range readZip(t, f.bundle) {
		for _, pos := range []int{0, len(zf.data) / 2, len(zf.data) - 2} {
			t.Run(fmt.Sprintf("%s@%d", zf.name, pos), func(t *testing.T) {
				tampered := replaceFile(t, f.bundle, zf.name, func(b []byte) []byte {
					b[pos] = flipPrintable(b[pos])
					return b
				})
				rep := MustVerify(t, tampered, trusted)
				if rep.OK() {
					t.Fatal("tampering not detected")
				}
				switch {
				case zf.name == ManifestPath:
					// The first finding says the signature broke; editing JSON
					// syntax may add a second finding saying it no longer parses.
					if got := rep.Findings[0]; got.Problem != ProblemSignature {
						t.Errorf("first finding = %q, want a signature problem", got.Message)
					}
				case zf.name == SignaturePath:
					if len(rep.Findings) != 1 || rep.Findings[0].Problem != ProblemSignature {
						t.Errorf("findings = %q, want one signature problem", messages(rep))
					}
				default:
					want := fmt.Sprintf("file %s: SHA-256 mismatch (altered?)", zf.name)
					if !slices.Contains(messages(rep), want) {
						t.Errorf("findings = %q, want %q", messages(rep), want)
					}
				}
			})
		}
	}
}

// flipPrintable changes b to another printable ASCII byte so the file stays
// text (and JSON stays mostly parseable), which exercises the finer checks.
func flipPrintable(b byte) byte {
	switch {
	case b == '\n':
		return ' '
	case b == '9':
		return '8'
	case b >= '0' && b < '9', b >= 'a' && b < 'z':
		return b + 1
	default:
		return b ^ 0x01
	}
}

func TestVerify_TamperChain(t *testing.T) {
	f := newFixture(t)
	trusted := f.key.Public()
	// Changing the chain changes its size or hash; the size is checked first.
	const chainMismatch = "file evidence-chain.jsonl: …"
	edit := func(fn func(lines []string) []string) []byte {
		return replaceFile(t, f.bundle, ChainPath, func(b []byte) []byte {
			lines := strings.SplitAfter(string(b), "\n")
			lines = lines[:len(lines)-1] // the empty string after the last newline
			return []byte(strings.Join(fn(lines), ""))
		})
	}
	// Lines hold entries 11..30, so entry n is on line n-10, index n-11.
	tests := []struct {
		name   string
		bundle []byte
		want   []string
	}{
		{
			name: "drop an entry",
			bundle: edit(func(l []string) []string {
				return slices.Delete(l, 18-11, 18-10)
			}),
			want: []string{chainMismatch, "evidence-chain.jsonl: entry 18 missing (sequence jumps 17 → 19)"},
		},
		{
			name:   "drop the last entries",
			bundle: edit(func(l []string) []string { return l[:len(l)-2] }),
			want: []string{
				chainMismatch,
				"evidence-chain.jsonl: entries 29–30 missing (the file ends at entry 28; the manifest says the chain runs to size 30)",
				"checkpoints/30.txt: entry 30 is not in evidence-chain.jsonl, so the checkpoint cannot be matched",
			},
		},
		{
			name: "reorder two entries",
			bundle: edit(func(l []string) []string {
				l[21-11], l[22-11] = l[22-11], l[21-11]
				return l
			}),
			want: []string{chainMismatch, "evidence-chain.jsonl: entry 21: out of order (appears after entry 22)"},
		},
		{
			name: "edit an entry's details",
			bundle: edit(func(l []string) []string {
				l[16-11] = strings.Replace(l[16-11], "Installation complete.", "Installation skipped.", 1)
				return l
			}),
			want: []string{chainMismatch, "evidence-chain.jsonl: entry 16: hash does not match its contents (edited?)"},
		},
		{
			name: "edit an entry and re-hash the rest of the chain",
			bundle: edit(func(l []string) []string {
				entries, err := ReadChain(strings.NewReader(strings.Join(l, "")))
				if err != nil {
					t.Fatal(err)
				}
				entries[16-11].Details["exit_code"] = "1603"
				for i := 16 - 11; i < len(entries); i++ {
					prev := f.chain[9]
					if i > 0 {
						prev = entries[i-1]
					}
					if entries[i], err = Append(&prev, entries[i]); err != nil {
						t.Fatal(err)
					}
				}
				var buf bytes.Buffer
				if err := WriteChain(&buf, entries); err != nil {
					t.Fatal(err)
				}
				return strings.SplitAfter(buf.String(), "\n")
			}),
			want: []string{
				chainMismatch,
				"evidence-chain.jsonl: entry 30: hash differs from the chain head in the manifest",
				"checkpoints/20.txt: head at size 20 does not match entry 20 in evidence-chain.jsonl (the chain was rewritten?)",
				"checkpoints/30.txt: head at size 30 does not match entry 30 in evidence-chain.jsonl (the chain was rewritten?)",
			},
		},
		{
			name: "garbage line",
			bundle: edit(func(l []string) []string {
				l[3] = "{not json}\n"
				return l
			}),
			want: []string{
				chainMismatch,
				"evidence-chain.jsonl: line 4: not a valid entry: …",
				"evidence-chain.jsonl: entry 14 missing (sequence jumps 13 → 15)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A want ending in "…" matches any message with that prefix.
			got := messages(MustVerify(t, tt.bundle, trusted))
			for i, w := range tt.want {
				if p, ok := strings.CutSuffix(w, "…"); ok && i < len(got) && strings.HasPrefix(got[i], p) {
					got[i] = w
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerify_Signatures(t *testing.T) {
	f := newFixture(t)
	mallory := MustKey(t, "patchring.example-msp.com", 66) // same name, different key
	forged := f.build(t, mallory, mallory)

	t.Run("swapped signing key", func(t *testing.T) {
		rep := MustVerify(t, forged, f.key.Public())
		wantFindings(t, rep,
			Finding{Problem: ProblemUntrustedKey, Message: "manifest signed by key " + mallory.Public().ID().String() + ", which is not in the trusted set"},
			Finding{Problem: ProblemUntrustedKey, Message: "checkpoints/10.txt: signed by key " + mallory.Public().ID().String() + ", which is not in the trusted set"},
			Finding{Problem: ProblemUntrustedKey, Message: "checkpoints/20.txt: signed by key " + mallory.Public().ID().String() + ", which is not in the trusted set"},
			Finding{Problem: ProblemUntrustedKey, Message: "checkpoints/30.txt: signed by key " + mallory.Public().ID().String() + ", which is not in the trusted set"},
		)
	})
	t.Run("no trusted key", func(t *testing.T) {
		// Without a trusted key the forgery and the original look the same:
		// both are intact and signed by the key they embed. Only the
		// authenticity finding is left, and it must be there.
		for _, b := range [][]byte{f.bundle, forged} {
			rep := MustVerify(t, b)
			if len(rep.Findings) != 1 || rep.Findings[0].Problem != ProblemUnauthenticated {
				t.Fatalf("Verify(no key) findings = %q, want exactly one authenticity finding", messages(rep))
			}
			if msg := rep.Findings[0].Message; !strings.HasPrefix(msg, "authenticity not established: no trusted key was given") || !strings.Contains(msg, "Anyone can embed a key") {
				t.Errorf("authenticity finding = %q", msg)
			}
			if len(rep.SignedBy) != 0 {
				t.Errorf("SignedBy = %v with no trusted key, want none", rep.SignedBy)
			}
		}
	})
	t.Run("signature removed", func(t *testing.T) {
		b := rewrite(t, f.bundle, func(z *zipFile) bool { return z.name != SignaturePath })
		wantFindings(t, MustVerify(t, b, f.key.Public()),
			Finding{Problem: ProblemSignature, Message: "manifest.sig is missing: the bundle is not signed"})
	})
	t.Run("signature emptied", func(t *testing.T) {
		b := replaceFile(t, f.bundle, SignaturePath, func([]byte) []byte { return nil })
		wantFindings(t, MustVerify(t, b, f.key.Public()),
			Finding{Problem: ProblemSignature, Message: "manifest.sig holds no signature: the bundle is not signed"})
	})
	t.Run("signature over the manifest plus more text", func(t *testing.T) {
		// A signed note splits at its last blank line. Signature lines with a
		// blank line in them move the split, so the key's signature would
		// cover more than manifest.json; that must not count.
		b := replaceFile(t, f.bundle, SignaturePath, func([]byte) []byte {
			var manifest []byte
			for _, z := range readZip(t, f.bundle) {
				if z.name == ManifestPath {
					manifest = z.data
				}
			}
			const extra = "— smuggled AAAA\n"
			sigs, err := sign(append(append(manifest, '\n'), extra...), f.key)
			if err != nil {
				t.Fatal(err)
			}
			return append([]byte(extra+"\n"), sigs...)
		})
		wantFindings(t, MustVerify(t, b, f.key.Public()), Finding{
			Problem: ProblemSignature,
			Message: "manifest.sig: malformed signature lines: blank line among the signatures",
		})
	})
	t.Run("manifest edited", func(t *testing.T) {
		b := replaceFile(t, f.bundle, ManifestPath, func(m []byte) []byte {
			return bytes.Replace(m, []byte("Riverside Family Clinic"), []byte("Riverside Family Clinik"), 1)
		})
		wantFindings(t, MustVerify(t, b, f.key.Public()), Finding{
			Problem: ProblemSignature,
			Message: "manifest signature by key " + f.key.Public().ID().String() + " is invalid: manifest.json or manifest.sig was altered",
		})
	})
	t.Run("checkpoints by a rotated-out key", func(t *testing.T) {
		old := MustKey(t, "patchring.example-msp.com/2025", 5)
		b := f.build(t, f.key, old)
		if rep := MustVerify(t, b, f.key.Public(), old.Public()); !rep.OK() {
			t.Errorf("Verify(both keys) findings: %q", messages(rep))
		}
		rep := MustVerify(t, b, f.key.Public())
		if len(rep.Findings) != 3 || !hasFinding(rep, ProblemUntrustedKey, "checkpoints/10.txt: signed by key "+old.Public().ID().String()) {
			t.Errorf("Verify(current key only) findings = %q, want the 3 checkpoints named as signed by an untrusted key", messages(rep))
		}
	})
}

func TestVerify_Files(t *testing.T) {
	f := newFixture(t)
	trusted := f.key.Public()
	tests := []struct {
		name   string
		bundle []byte
		want   []Finding
	}{
		{
			name:   "extra file",
			bundle: writeZip(t, append(readZip(t, f.bundle), zipFile{"reports/extra.pdf", []byte("%PDF")})),
			want:   []Finding{{Problem: ProblemUnlistedFile, Message: `file "reports/extra.pdf" is in the bundle but not listed in the manifest`}},
		},
		{
			name:   "missing file",
			bundle: rewrite(t, f.bundle, func(z *zipFile) bool { return z.name != "compensating-controls.csv" }),
			want:   []Finding{{Problem: ProblemMissingFile, Message: "file compensating-controls.csv is listed in the manifest but missing from the bundle"}},
		},
		{
			name:   "file grew",
			bundle: replaceFile(t, f.bundle, "reports/patch-health.pdf", func(b []byte) []byte { return append(b, '\n') }),
			want:   []Finding{{Problem: ProblemFileMismatch, Message: "file reports/patch-health.pdf: size is 53 bytes, the manifest says 52 (altered?)"}},
		},
		{
			name:   "missing manifest",
			bundle: rewrite(t, f.bundle, func(z *zipFile) bool { return z.name != ManifestPath }),
			want:   []Finding{{Problem: ProblemManifest, Message: "manifest.json is missing: this is not an evidence bundle, or the manifest was removed"}},
		},
		{
			name: "zip slip",
			bundle: writeZip(t, append(readZip(t, f.bundle),
				zipFile{"../../etc/cron.d/evil", []byte("x")},
				zipFile{"/etc/passwd", []byte("x")},
				zipFile{`reports\..\..\evil.bat`, []byte("x")},
				zipFile{"C:evil", []byte("x")})),
			want: []Finding{
				{Problem: ProblemPath, Message: `unsafe file name "../../etc/cron.d/evil" contains a ".." segment`},
				{Problem: ProblemPath, Message: `unsafe file name "/etc/passwd" is an absolute path`},
				{Problem: ProblemPath, Message: `unsafe file name "reports\\..\\..\\evil.bat" contains a backslash or colon`},
				{Problem: ProblemPath, Message: `unsafe file name "C:evil" contains a backslash or colon`},
				{Problem: ProblemUnlistedFile, Message: `file "../../etc/cron.d/evil" is in the bundle but not listed in the manifest`},
				{Problem: ProblemUnlistedFile, Message: `file "/etc/passwd" is in the bundle but not listed in the manifest`},
				{Problem: ProblemUnlistedFile, Message: `file "reports\\..\\..\\evil.bat" is in the bundle but not listed in the manifest`},
				{Problem: ProblemUnlistedFile, Message: `file "C:evil" is in the bundle but not listed in the manifest`},
			},
		},
		{
			name: "duplicate names",
			bundle: writeZip(t, append(readZip(t, f.bundle),
				zipFile{"ephi-inventory.csv", []byte("asset\nother\n")},
				zipFile{"EPHI-Inventory.csv", []byte("x")})),
			want: []Finding{
				{Problem: ProblemPath, Message: `file "ephi-inventory.csv" appears more than once in the archive`},
				{Problem: ProblemPath, Message: `files "ephi-inventory.csv" and "EPHI-Inventory.csv" differ only in case and would overwrite each other when unpacked`},
				{Problem: ProblemUnlistedFile, Message: `file "EPHI-Inventory.csv" is in the bundle but not listed in the manifest`},
			},
		},
		{
			name:   "truncated",
			bundle: f.bundle[:len(f.bundle)/2],
			want:   []Finding{{Problem: ProblemArchive, Message: "not a readable zip archive (truncated or damaged?): zip: not a valid zip file"}},
		},
		{
			name:   "not a zip",
			bundle: []byte("%PDF-1.7\n"),
			want:   []Finding{{Problem: ProblemArchive, Message: "not a readable zip archive (truncated or damaged?): zip: not a valid zip file"}},
		},
		{
			name:   "corrupted compressed data",
			bundle: corruptStoredFile(t, f.bundle, "ephi-inventory.csv"),
			want:   []Finding{{Problem: ProblemArchive, Message: "file ephi-inventory.csv cannot be read: zip: checksum error"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantFindings(t, MustVerify(t, tt.bundle, trusted), tt.want...)
		})
	}
}

// corruptStoredFile rewrites bundle with name stored uncompressed and one
// byte of its data changed in place, so only the CRC can catch it.
func corruptStoredFile(tb testing.TB, bundle []byte, name string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var offset int64 = -1
	for _, zf := range readZip(tb, bundle) {
		method := zip.Deflate
		if zf.name == name {
			method = zip.Store
			zw.Flush()
			offset = int64(buf.Len()) + 30 + int64(len(name)) // local header + name, no extra
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: zf.name, Method: method})
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(zf.data)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	b := buf.Bytes()
	b[offset] ^= 0x20
	return b
}

func TestVerify_Limits(t *testing.T) {
	f := newFixture(t)
	trusted := []PublicKey{f.key.Public()}
	small := limits{manifest: 1 << 20, signature: 1 << 10, files: 20, file: 16 << 10, total: 64 << 10}

	t.Run("OK under limits", func(t *testing.T) {
		rep, err := verify(bytes.NewReader(f.bundle), int64(len(f.bundle)), trusted, small)
		if err != nil || !rep.OK() {
			t.Fatalf("verify() = %q, %v", messages(rep), err)
		}
	})
	t.Run("declared file too large", func(t *testing.T) {
		bomb := writeZip(t, append(readZip(t, f.bundle), zipFile{"bomb.bin", make([]byte, 20<<10)}))
		rep, err := verify(bytes.NewReader(bomb), int64(len(bomb)), trusted, small)
		if err != nil {
			t.Fatal(err)
		}
		wantFindings(t, rep, Finding{Problem: ProblemLimit, Message: `file "bomb.bin" unpacks to 20480 bytes, more than the limit of 16384; bundle refused`})
	})
	t.Run("declared total too large", func(t *testing.T) {
		files := readZip(t, f.bundle)
		for i := range 20 {
			files = append(files, zipFile{fmt.Sprintf("filler/%d", i), make([]byte, 4<<10)})
		}
		b := writeZip(t, files)
		small := small
		small.files = 100
		rep, err := verify(bytes.NewReader(b), int64(len(b)), trusted, small)
		if err != nil {
			t.Fatal(err)
		}
		wantFindings(t, rep, Finding{Problem: ProblemLimit, Message: "the archive unpacks to more than the limit of 65536 bytes; bundle refused"})
	})
	t.Run("too many files", func(t *testing.T) {
		files := readZip(t, f.bundle)
		for i := range 20 {
			files = append(files, zipFile{fmt.Sprintf("filler/%d", i), nil})
		}
		b := writeZip(t, files)
		rep, err := verify(bytes.NewReader(b), int64(len(b)), trusted, small)
		if err != nil {
			t.Fatal(err)
		}
		wantFindings(t, rep, Finding{Problem: ProblemLimit, Message: "the archive holds 32 files, more than the 22 a bundle may hold; refused"})
	})
	t.Run("header lies about the size", func(t *testing.T) {
		// A 1 MiB run of zeros declared as 10 bytes: reading must stop at
		// the limit instead of trusting the header.
		b := writeZipWithLyingEntry(t, readZip(t, f.bundle), "ephi-inventory.csv", make([]byte, 1<<20), 10)
		rep, err := verify(bytes.NewReader(b), int64(len(b)), trusted, small)
		if err != nil {
			t.Fatal(err)
		}
		if rep.OK() || (!hasFinding(rep, ProblemArchive, "ephi-inventory.csv") && !hasFinding(rep, ProblemLimit, "ephi-inventory.csv")) {
			t.Errorf("findings = %q, want ephi-inventory.csv refused or unreadable", messages(rep))
		}
	})
	t.Run("manifest too large", func(t *testing.T) {
		small := small
		small.manifest = 100
		rep, err := verify(bytes.NewReader(f.bundle), int64(len(f.bundle)), trusted, small)
		if err != nil {
			t.Fatal(err)
		}
		if !hasFinding(rep, ProblemLimit, "manifest.json is larger than the limit of 100 bytes; bundle refused") || len(rep.Findings) != 1 {
			t.Errorf("findings = %q", messages(rep))
		}
	})
}

// writeZipWithLyingEntry writes files plus, in place of name, an entry whose
// headers declare declared bytes but whose deflate stream holds data.
func writeZipWithLyingEntry(tb testing.TB, files []zipFile, name string, data []byte, declared uint64) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, zf := range files {
		if zf.name != name {
			w, err := zw.Create(zf.name)
			if err != nil {
				tb.Fatal(err)
			}
			w.Write(zf.data)
			continue
		}
		var comp bytes.Buffer
		fw, _ := flate.NewWriter(&comp, flate.BestCompression)
		fw.Write(data)
		fw.Close()
		w, err := zw.CreateRaw(&zip.FileHeader{
			Name: name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(data[:declared]),
			CompressedSize64: uint64(comp.Len()), UncompressedSize64: declared,
		})
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(comp.Bytes())
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestVerify_ReadError(t *testing.T) {
	f := newFixture(t)
	boom := errors.New("disk on fire")
	_, err := Verify(failingReaderAt{bytes.NewReader(f.bundle), boom}, int64(len(f.bundle)), nil)
	if !errors.Is(err, boom) {
		t.Errorf("Verify(failing reader) error = %v, want %v", err, boom)
	}
}

type failingReaderAt struct {
	r   *bytes.Reader
	err error
}

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off > 100 {
		return 0, f.err
	}
	return f.r.ReadAt(p, off)
}

func TestBundleWriter_Errors(t *testing.T) {
	key := MustKey(t, "msp", 1)
	chain := MustChain(t, fixtureClient, 10)
	newWriter := func(t *testing.T) *BundleWriter {
		bw, err := NewBundleWriter(&bytes.Buffer{}, fixtureInfo(), key)
		if err != nil {
			t.Fatal(err)
		}
		return bw
	}
	t.Run("AddFile", func(t *testing.T) {
		bw := newWriter(t)
		if err := bw.AddFile("reports/a.pdf", []byte("a")); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{
			"reports/a.pdf", "REPORTS/A.PDF", "manifest.json", "Manifest.Sig", "evidence-chain.jsonl", "checkpoints/1.txt",
			"../a", "/a", "a//b", "a/", "a\\b", "C:a", "a\x00b", "a/./b", "report.", "",
		} {
			if err := bw.AddFile(name, []byte("x")); err == nil {
				t.Errorf("AddFile(%q) succeeded, want error", name)
			}
		}
		if err := bw.AddFile("big.bin", make([]byte, maxFileSize+1)); err == nil {
			t.Error("AddFile(too big) succeeded, want error")
		}
	})
	t.Run("AddChain", func(t *testing.T) {
		other := MustKey(t, "other", 2)
		tests := []struct {
			name    string
			seg     ChainSegment
			wantErr string
		}{
			{"ErrBrokenChain", ChainSegment{Entries: slices.Delete(slices.Clone(chain), 3, 4)}, "entry 4 missing"},
			{"ErrWrongStart", ChainSegment{StartSize: 3, StartHead: chain[1].Hash, Entries: chain[3:]}, "entry 4: previous-entry hash does not match the chain head at size 3"},
			{"ErrZeroStartHead", ChainSegment{StartHead: Hash{1}}, "all-zero start head"},
			{"ErrOtherClient", ChainSegment{Entries: MustChain(t, "clinic-other", 2)}, "belongs to client"},
			{"ErrCheckpointOutside", ChainSegment{StartSize: 5, StartHead: chain[4].Hash, Entries: chain[5:], Checkpoints: [][]byte{MustCheckpoint(t, chain, 4, key)}}, "outside the chain segment"},
			{"ErrCheckpointUnknownKey", ChainSegment{Entries: chain, Checkpoints: [][]byte{MustCheckpoint(t, chain, 4, other)}}, "not in the trusted set"},
			{"ErrCheckpointDuplicate", ChainSegment{Entries: chain, Checkpoints: [][]byte{MustCheckpoint(t, chain, 4, key), MustCheckpoint(t, chain, 4, key)}}, "second checkpoint of size 4"},
			{"ErrCheckpointOtherChain", ChainSegment{Entries: chain, Checkpoints: [][]byte{MustCheckpoint(t, MustChain(t, fixtureClient, 11)[5:], 4, key)}}, "does not match the hash of entry 4"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := newWriter(t).AddChain(tt.seg)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("AddChain() = %v, want error containing %q", err, tt.wantErr)
				}
			})
		}
	})
	t.Run("CloseWithoutChain", func(t *testing.T) {
		if err := newWriter(t).Close(); err == nil {
			t.Error("Close() without AddChain succeeded, want error")
		}
	})
	t.Run("AddChainTwice", func(t *testing.T) {
		bw := newWriter(t)
		if err := bw.AddChain(ChainSegment{Entries: chain}); err != nil {
			t.Fatal(err)
		}
		if err := bw.AddChain(ChainSegment{Entries: chain}); err == nil {
			t.Error("second AddChain succeeded, want error")
		}
	})
	t.Run("NewBundleWriter", func(t *testing.T) {
		bad := fixtureInfo()
		bad.PeriodEnd = bad.PeriodStart.Add(-time.Hour)
		if _, err := NewBundleWriter(&bytes.Buffer{}, bad, key); err == nil {
			t.Error("NewBundleWriter(period ends before start) succeeded")
		}
		if _, err := NewBundleWriter(&bytes.Buffer{}, fixtureInfo(), nil); err == nil {
			t.Error("NewBundleWriter(nil key) succeeded")
		}
	})
}

func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.bundle)
	f.Add(fx.bundle[:len(fx.bundle)-10])
	f.Add(writeZip(f, []zipFile{{ManifestPath, []byte("{}\n")}, {SignaturePath, []byte("— a AAAAAAA=\n")}}))
	f.Add(writeZip(f, []zipFile{{"../x", nil}, {"x", nil}, {"X", nil}}))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	trusted := []PublicKey{fx.key.Public()}
	f.Fuzz(func(t *testing.T, b []byte) {
		small := limits{manifest: 1 << 16, signature: 1 << 10, files: 64, file: 1 << 16, total: 1 << 20}
		rep, err := verify(bytes.NewReader(b), int64(len(b)), trusted, small)
		if err != nil {
			t.Fatalf("verify() error on an in-memory reader: %v", err)
		}
		if rep.OK() && !bytes.Equal(b, fx.bundle) {
			// Anything else that verifies must have the fixture's manifest
			// and signature: a fuzzer cannot forge Ed25519.
			if rep.Manifest == nil || rep.Manifest.ClientID != fixtureClient {
				t.Errorf("unexpected bundle verified: %+v", rep.Manifest)
			}
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	fx := newFixture(f)
	for _, zf := range readZip(f, fx.bundle) {
		if zf.name == ManifestPath {
			f.Add(zf.data)
		}
	}
	f.Add([]byte(`{"format":"patchring-evidence-bundle-v1","files":[{"path":"a","size":-1}]}`))
	f.Add([]byte(`{"format":"patchring-evidence-bundle-v1","Format":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseManifest(b)
		if err != nil {
			return
		}
		// A manifest that parses re-encodes to one that parses the same.
		again, err := encodeManifest(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := parseManifest(again)
		if err != nil {
			t.Fatalf("re-encoded manifest does not parse: %v\n%s", err, again)
		}
		if diff := cmp.Diff(m, m2); diff != "" {
			t.Errorf("re-encoding changed the manifest (-first +second):\n%s", diff)
		}
	})
}
