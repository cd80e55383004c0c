package evidence

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Problem classifies a [Finding]. Values are stable and may be shown to users
// or matched by tools.
type Problem string

// Problems a verifier can find in a bundle.
const (
	ProblemArchive         Problem = "archive"         // not a readable zip archive, or a file in it cannot be read
	ProblemLimit           Problem = "limit"           // larger than the verifier accepts (refused, e.g. a decompression bomb)
	ProblemPath            Problem = "path"            // an unsafe or duplicate file name in the archive
	ProblemManifest        Problem = "manifest"        // manifest.json missing, malformed or inconsistent
	ProblemSignature       Problem = "signature"       // a signature is missing, malformed or invalid
	ProblemUntrustedKey    Problem = "untrusted-key"   // signed only by keys outside the trusted set
	ProblemUnauthenticated Problem = "unauthenticated" // no trusted key was given, so authenticity is unknown
	ProblemMissingFile     Problem = "missing-file"    // listed in the manifest but absent
	ProblemUnlistedFile    Problem = "unlisted-file"   // present but not listed in the manifest
	ProblemFileMismatch    Problem = "file-mismatch"   // size or SHA-256 differs from the manifest
	ProblemChain           Problem = "chain"           // an entry of the evidence chain is wrong
	ProblemCheckpoint      Problem = "checkpoint"      // a checkpoint is malformed or disagrees with the chain
)

// Finding is one thing wrong with a bundle.
type Finding struct {
	Problem Problem
	Path    string // the file inside the bundle it concerns, if any
	Seq     uint64 // the chain entry it concerns, if any
	Message string // a complete sentence-like description naming the file, entry or key
}

func (f Finding) String() string { return f.Message }

// Report is the result of verifying a bundle.
type Report struct {
	// Manifest is the parsed manifest.json, or nil when it is missing or
	// unreadable. Its contents are only as trustworthy as the report is OK.
	Manifest *Manifest
	// SignedBy lists the trusted keys whose signatures on the manifest
	// verified.
	SignedBy []KeyID
	// Checkpoints lists the checkpoints that verified and agree with the chain.
	Checkpoints []Checkpoint
	// Findings lists every problem found, in the order checked.
	Findings []Finding
}

// OK reports whether the bundle verified completely: it is authentic (signed
// by a trusted key) and intact.
func (r *Report) OK() bool { return len(r.Findings) == 0 }

// limits bound what a verifier reads; see the constants in manifest.go.
type limits struct {
	manifest, signature int64
	files               int
	file, total         int64
}

var defaultLimits = limits{
	manifest:  maxManifestLen,
	signature: maxSignatureLen,
	files:     maxFiles,
	file:      maxFileSize,
	total:     maxTotalSize,
}

// Verify checks the evidence bundle in r (size bytes long) offline, with
// trusted as the public keys the server is known to use (see
// [ParsePublicKey]). It checks:
//
//   - that the archive is readable, within size limits, and that every name
//     in it is safe to unpack and unique;
//   - that manifest.sig holds a valid signature of manifest.json by a key in
//     trusted. With no trusted keys the signature is checked against the
//     keys embedded in the manifest, but the report then always holds a
//     ProblemUnauthenticated finding: an embedded key proves nothing, since
//     whoever altered a bundle could embed their own;
//   - that every file the manifest lists is present with the listed size and
//     SHA-256, and that no other file is present;
//   - that the chain entries in evidence-chain.jsonl are well formed, hash to
//     their stored hashes and form an unbroken sequence from the manifest's
//     chain start to its end;
//   - that every checkpoint is signed by a trusted key and agrees with the
//     entry at its size.
//
// It collects every problem as a Finding rather than stopping at the first;
// a bundle over the size limits is refused after the finding that says so.
// The error is non-nil only when reading r fails.
func Verify(r io.ReaderAt, size int64, trusted []PublicKey) (*Report, error) {
	return verify(r, size, trusted, defaultLimits)
}

func verify(r io.ReaderAt, size int64, trusted []PublicKey, lim limits) (*Report, error) {
	ra := &errReaderAt{r: r, size: size}
	v := &verifier{lim: lim, trusted: trusted, rep: &Report{}, files: map[string]*zip.File{}}
	v.run(ra, size)
	if ra.err != nil {
		return nil, fmt.Errorf("read bundle: %w", ra.err)
	}
	return v.rep, nil
}

// errReaderAt remembers the first error from r other than io.EOF, so that
// I/O failures are told apart from damaged archives. Reads outside the
// archive, which only a damaged archive asks for, never reach r.
type errReaderAt struct {
	r    io.ReaderAt
	size int64
	err  error
}

var errOutside = errors.New("read outside the archive")

func (e *errReaderAt) ReadAt(p []byte, off int64) (int, error) {
	switch {
	case off < 0:
		return 0, errOutside
	case off >= e.size:
		return 0, io.EOF
	case int64(len(p)) > e.size-off:
		n, err := e.ReadAt(p[:e.size-off], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	n, err := e.r.ReadAt(p, off)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

type verifier struct {
	lim     limits
	trusted []PublicKey
	rep     *Report
	zr      *zip.Reader
	files   map[string]*zip.File // by exact name; the first of duplicates
	read    int64                // bytes decompressed so far
	refused bool                 // a limit was exceeded: read nothing more
}

func (v *verifier) add(p Problem, path string, seq uint64, format string, args ...any) {
	v.rep.Findings = append(v.rep.Findings, Finding{Problem: p, Path: path, Seq: seq, Message: fmt.Sprintf(format, args...)})
}

func (v *verifier) run(r io.ReaderAt, size int64) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		v.add(ProblemArchive, "", 0, "not a readable zip archive (truncated or damaged?): %v", err)
		return
	}
	v.zr = zr
	if !v.indexFiles() {
		return
	}
	m := v.checkManifest()
	if m == nil || v.refused {
		return
	}
	data := v.checkFiles(m)
	if v.refused {
		return
	}
	keys := v.trusted
	if len(keys) == 0 {
		keys = embeddedKeys(m)
	}
	chain, ok := data[m.Chain.Path]
	var entries []Entry
	if ok {
		entries = v.checkChain(m, chain)
	}
	v.checkCheckpoints(m, data, entries, keys)
}

// indexFiles checks the archive's names and sizes. It returns false when the
// archive is refused.
func (v *verifier) indexFiles() bool {
	if len(v.zr.File) > v.lim.files+2 {
		v.add(ProblemLimit, "", 0, "the archive holds %d files, more than the %d a bundle may hold; refused", len(v.zr.File), v.lim.files+2)
		return false
	}
	folded := map[string]string{}
	var declared uint64
	for _, f := range v.zr.File {
		if f.UncompressedSize64 > uint64(v.lim.file) {
			v.add(ProblemLimit, f.Name, 0, "file %q unpacks to %d bytes, more than the limit of %d; bundle refused", f.Name, f.UncompressedSize64, v.lim.file)
			return false
		}
		if declared += f.UncompressedSize64; declared > uint64(v.lim.total) {
			v.add(ProblemLimit, "", 0, "the archive unpacks to more than the limit of %d bytes; bundle refused", v.lim.total)
			return false
		}
		if err := checkPath(f.Name); err != nil {
			v.add(ProblemPath, f.Name, 0, "unsafe %v", err)
		}
		switch prev, dup := folded[pathKey(f.Name)]; {
		case dup && prev == f.Name:
			v.add(ProblemPath, f.Name, 0, "file %q appears more than once in the archive", f.Name)
			continue
		case dup:
			v.add(ProblemPath, f.Name, 0, "files %q and %q differ only in case and would overwrite each other when unpacked", prev, f.Name)
		default:
			folded[pathKey(f.Name)] = f.Name
		}
		v.files[f.Name] = f
	}
	return true
}

// checkManifest reads, authenticates and parses the manifest. It returns nil
// when the rest of the bundle cannot be checked.
func (v *verifier) checkManifest() *Manifest {
	mf := v.files[ManifestPath]
	if mf == nil {
		v.add(ProblemManifest, ManifestPath, 0, "manifest.json is missing: this is not an evidence bundle, or the manifest was removed")
		return nil
	}
	text, ok := v.readFile(mf, v.lim.manifest)
	if !ok {
		return nil
	}
	m, parseErr := parseManifest(text)

	var sig []byte
	if sf := v.files[SignaturePath]; sf == nil {
		v.add(ProblemSignature, SignaturePath, 0, "manifest.sig is missing: the bundle is not signed")
	} else if sig, ok = v.readFile(sf, v.lim.signature); ok {
		v.checkManifestSignature(text, sig, m)
	}
	if len(v.trusted) == 0 {
		v.add(ProblemUnauthenticated, "", 0, "authenticity not established: no trusted key was given. %s", embeddedHint(m))
	}
	if parseErr != nil {
		v.add(ProblemManifest, ManifestPath, 0, "manifest.json: %v", parseErr)
		return nil
	}
	v.rep.Manifest = m
	return m
}

func (v *verifier) checkManifestSignature(text, sig []byte, m *Manifest) {
	keys, where := v.trusted, "the trusted set"
	if len(keys) == 0 {
		keys, where = embeddedKeys(m), "the keys embedded in the manifest"
	}
	ids, err := open(text, sig, keys)
	var (
		untrusted *untrustedError
		bad       *badSignatureError
	)
	switch {
	case err == nil:
		if len(v.trusted) > 0 {
			v.rep.SignedBy = ids
		}
	case errors.As(err, &untrusted):
		ids := make([]string, len(untrusted.keys))
		for i, k := range untrusted.keys {
			ids[i] = k.String()
		}
		v.add(ProblemUntrustedKey, SignaturePath, 0, "manifest signed by key %s, which is not in %s", strings.Join(ids, ", "), where)
	case errors.As(err, &bad):
		v.add(ProblemSignature, SignaturePath, 0, "manifest signature by key %s is invalid: manifest.json or manifest.sig was altered", bad.key)
	case errors.Is(err, errUnsigned):
		v.add(ProblemSignature, SignaturePath, 0, "manifest.sig holds no signature: the bundle is not signed")
	case errors.Is(err, errBadText):
		v.add(ProblemSignature, ManifestPath, 0, "manifest.json cannot carry a valid signature: %v (altered?)", err)
	default:
		v.add(ProblemSignature, SignaturePath, 0, "manifest.sig: %v", err)
	}
}

// embeddedHint tells an auditor without a trusted key what to do next.
func embeddedHint(m *Manifest) string {
	const advice = "Anyone can embed a key in a bundle, so obtain the public key your MSP publishes and verify again with it."
	if m == nil || len(m.Keys) == 0 {
		return advice
	}
	return fmt.Sprintf("The bundle embeds key %s. %s", strings.Join(m.Keys, ", "), advice)
}

func embeddedKeys(m *Manifest) []PublicKey {
	if m == nil {
		return nil
	}
	var keys []PublicKey
	for _, s := range m.Keys {
		if k, err := ParsePublicKey(s); err == nil {
			keys = append(keys, k)
		}
	}
	return keys
}

// checkFiles compares every listed file with the archive and reports
// unlisted files. It returns the contents of the chain file and checkpoints
// that could be read (whether or not their hashes match, so that a damaged
// chain can still be examined entry by entry).
func (v *verifier) checkFiles(m *Manifest) map[string][]byte {
	keep := map[string]bool{m.Chain.Path: true}
	for _, p := range m.Chain.Checkpoints {
		keep[p] = true
	}
	kept := map[string][]byte{}
	listed := map[string]bool{ManifestPath: true, SignaturePath: true}
	for _, lf := range m.Files {
		listed[lf.Path] = true
		if v.refused {
			continue
		}
		f := v.files[lf.Path]
		if f == nil {
			v.add(ProblemMissingFile, lf.Path, 0, "file %s is listed in the manifest but missing from the bundle", lf.Path)
			continue
		}
		n, sum, data, ok := v.hashFile(f, keep[lf.Path])
		if !ok {
			continue
		}
		if keep[lf.Path] {
			kept[lf.Path] = data
		}
		switch {
		case n != lf.Size:
			v.add(ProblemFileMismatch, lf.Path, 0, "file %s: size is %d bytes, the manifest says %d (altered?)", lf.Path, n, lf.Size)
		case sum != lf.SHA256:
			v.add(ProblemFileMismatch, lf.Path, 0, "file %s: SHA-256 mismatch (altered?)", lf.Path)
		}
	}
	for _, f := range v.zr.File {
		if !listed[f.Name] {
			v.add(ProblemUnlistedFile, f.Name, 0, "file %q is in the bundle but not listed in the manifest", f.Name)
			listed[f.Name] = true // report once
		}
	}
	return kept
}

// checkChain checks the chain file's entries and returns those that decoded.
// A missing or unreadable chain file has already been reported.
func (v *verifier) checkChain(m *Manifest, data []byte) []Entry {
	c := &m.Chain
	entries, lineErrs := readChain(bytes.NewReader(data))
	for _, le := range lineErrs {
		v.add(ProblemChain, c.Path, 0, "%s: %v", c.Path, le)
	}
	for _, ce := range checkChain(m.ClientID, c.StartSize, c.StartHead, entries) {
		v.add(ProblemChain, c.Path, ce.Seq, "%s: %v", c.Path, ce)
	}
	var last *Entry // the highest Seq in the file
	for i := range entries {
		if last == nil || entries[i].Seq > last.Seq {
			last = &entries[i]
		}
	}
	switch {
	case last == nil && c.EndSize > c.StartSize:
		v.add(ProblemChain, c.Path, c.StartSize+1, "%s: %s missing (the file holds no entries; the manifest says the chain runs to size %d)",
			c.Path, seqRange(c.StartSize+1, c.EndSize), c.EndSize)
	case last == nil:
	case last.Seq < c.EndSize:
		v.add(ProblemChain, c.Path, last.Seq+1, "%s: %s missing (the file ends at entry %d; the manifest says the chain runs to size %d)",
			c.Path, seqRange(last.Seq+1, c.EndSize), last.Seq, c.EndSize)
	case last.Seq > c.EndSize:
		v.add(ProblemChain, c.Path, last.Seq, "%s: entry %d is beyond the end of the chain in the manifest (size %d)", c.Path, last.Seq, c.EndSize)
	case last.Hash != c.EndHead:
		v.add(ProblemChain, c.Path, last.Seq, "%s: entry %d: hash differs from the chain head in the manifest", c.Path, last.Seq)
	}
	return entries
}

// checkCheckpoints verifies each checkpoint's signature with keys and
// matches it against the entries.
func (v *verifier) checkCheckpoints(m *Manifest, data map[string][]byte, entries []Entry, keys []PublicKey) {
	c := &m.Chain
	bySeq := make(map[uint64]*Entry, len(entries))
	for i := range entries {
		if _, ok := bySeq[entries[i].Seq]; !ok {
			bySeq[entries[i].Seq] = &entries[i]
		}
	}
	for _, p := range c.Checkpoints {
		signed, ok := data[p]
		if !ok {
			continue // missing or unreadable: already reported
		}
		cp, _, err := openCheckpoint(signed, keys)
		var (
			untrusted *untrustedError
			bad       *badSignatureError
		)
		switch {
		case errors.As(err, &untrusted) && len(v.trusted) == 0:
			v.add(ProblemSignature, p, 0, "%s: signed by a key that is not embedded in the manifest", p)
			continue
		case errors.As(err, &untrusted):
			v.add(ProblemUntrustedKey, p, 0, "%s: %v", p, untrusted)
			continue
		case errors.As(err, &bad):
			v.add(ProblemSignature, p, 0, "%s: %v", p, bad)
			continue
		case err != nil:
			v.add(ProblemCheckpoint, p, 0, "%s: %v", p, err)
			continue
		}
		switch e := bySeq[cp.Size]; {
		case cp.ClientID != m.ClientID:
			v.add(ProblemCheckpoint, p, 0, "%s: is for client %q, not %q", p, cp.ClientID, m.ClientID)
		case cp.Size < c.StartSize || cp.Size > c.EndSize:
			v.add(ProblemCheckpoint, p, 0, "%s: size %d is outside the bundle's chain (sizes %d to %d), so it cannot be checked", p, cp.Size, c.StartSize, c.EndSize)
		case cp.Size == c.StartSize && cp.Head != c.StartHead:
			v.add(ProblemCheckpoint, p, cp.Size, "%s: head at size %d does not match the chain start in the manifest", p, cp.Size)
		case cp.Size == c.StartSize:
			v.rep.Checkpoints = append(v.rep.Checkpoints, cp)
		case e == nil:
			v.add(ProblemCheckpoint, p, cp.Size, "%s: entry %d is not in %s, so the checkpoint cannot be matched", p, cp.Size, c.Path)
		case e.Hash != cp.Head:
			v.add(ProblemCheckpoint, p, cp.Size, "%s: head at size %d does not match entry %d in %s (the chain was rewritten?)", p, cp.Size, cp.Size, c.Path)
		default:
			v.rep.Checkpoints = append(v.rep.Checkpoints, cp)
		}
	}
}

// readFile reads a small file whole, at most limit bytes.
func (v *verifier) readFile(f *zip.File, limit int64) ([]byte, bool) {
	if f.UncompressedSize64 > uint64(limit) {
		v.add(ProblemLimit, f.Name, 0, "%s is larger than the limit of %d bytes; bundle refused", f.Name, limit)
		v.refused = true
		return nil, false
	}
	_, _, data, ok := v.readLimited(f, limit, true)
	return data, ok
}

// hashFile reads f within the per-file limit and returns its size and
// SHA-256, and its contents if keep.
func (v *verifier) hashFile(f *zip.File, keep bool) (int64, Hash, []byte, bool) {
	return v.readLimited(f, v.lim.file, keep)
}

func (v *verifier) readLimited(f *zip.File, limit int64, keep bool) (int64, Hash, []byte, bool) {
	rc, err := f.Open()
	if err != nil {
		v.add(ProblemArchive, f.Name, 0, "file %s cannot be read: %v", f.Name, err)
		return 0, Hash{}, nil, false
	}
	defer rc.Close()
	h := sha256.New()
	var buf bytes.Buffer
	w := io.Writer(h)
	if keep {
		w = io.MultiWriter(h, &buf)
	}
	n, err := io.Copy(w, io.LimitReader(rc, limit+1))
	v.read += n
	switch {
	case n > limit:
		v.add(ProblemLimit, f.Name, 0, "file %s unpacks to more than the limit of %d bytes; bundle refused", f.Name, limit)
		v.refused = true
		return 0, Hash{}, nil, false
	case v.read > v.lim.total:
		v.add(ProblemLimit, "", 0, "the archive unpacks to more than the limit of %d bytes; bundle refused", v.lim.total)
		v.refused = true
		return 0, Hash{}, nil, false
	case err != nil:
		v.add(ProblemArchive, f.Name, 0, "file %s cannot be read: %v", f.Name, err)
		return 0, Hash{}, nil, false
	}
	var sum Hash
	h.Sum(sum[:0])
	return n, sum, buf.Bytes(), true
}
