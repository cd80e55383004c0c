package evidence

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Names of the files every bundle has.
const (
	ManifestPath  = "manifest.json"
	SignaturePath = "manifest.sig"
	ChainPath     = "evidence-chain.jsonl"
	// Checkpoints are stored as checkpoints/<size>.txt.
	checkpointDir = "checkpoints/"
)

// BundleFormat is the value of Manifest.Format for bundles this package
// writes and verifies.
const BundleFormat = "patchring-evidence-bundle-v1"

// Limits applied when reading a bundle (and when writing one, so that the
// writer never produces a bundle its verifier refuses). They bound memory
// and time against decompression bombs; a month of evidence for one client
// is far smaller.
const (
	maxManifestLen  = 8 << 20
	maxSignatureLen = 64 << 10
	maxFiles        = 10000
	maxFileSize     = 256 << 20
	maxTotalSize    = 1 << 30
)

// Manifest is the contents of manifest.json: what a bundle holds and which
// part of the evidence chain it covers. manifest.sig signs its exact bytes.
type Manifest struct {
	Format     string `json:"format"` // BundleFormat
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name"`
	// PeriodStart (inclusive) and PeriodEnd (exclusive) bound the events
	// and reports the bundle was generated for.
	PeriodStart time.Time `json:"period_start"`
	PeriodEnd   time.Time `json:"period_end"`
	GeneratedAt time.Time `json:"generated_at"`
	Generator   string    `json:"generator"` // program and version, e.g. "patchring 1.4.0"
	// Keys lists, in text form, the public keys that signed the manifest and
	// the checkpoints. They are a convenience for identifying the signer and
	// are never trusted by the verifier: anyone can embed a key.
	Keys  []string       `json:"keys"`
	Files []ManifestFile `json:"files"`
	Chain ManifestChain  `json:"chain"`
}

// ManifestFile describes one file in the bundle other than manifest.json and
// manifest.sig.
type ManifestFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 Hash   `json:"sha256"`
}

// ManifestChain says which entries of the client's chain the bundle holds:
// those with Seq StartSize+1 through EndSize, in the file Path. StartHead is
// the hash of entry StartSize (all zeros for 0), so the first entry's
// PrevHash must equal it; EndHead is the hash of entry EndSize. Checkpoints
// lists the signed checkpoint files; each has a size between StartSize and
// EndSize, so it can be checked against the entries.
type ManifestChain struct {
	Path        string   `json:"path"`
	StartSize   uint64   `json:"start_size"`
	StartHead   Hash     `json:"start_head"`
	EndSize     uint64   `json:"end_size"`
	EndHead     Hash     `json:"end_head"`
	Checkpoints []string `json:"checkpoints"`
}

// encodeManifest returns the bytes of manifest.json: indented JSON ending in
// a newline, which is valid signed-note text.
func encodeManifest(m *Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// parseManifest decodes manifest.json strictly and checks that it is
// self-consistent. The caller checks it against the bundle.
func parseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := decodeStrict(data, &m); err != nil {
		return nil, fmt.Errorf("malformed manifest: %w", err)
	}
	if m.Format != BundleFormat {
		return nil, fmt.Errorf("unsupported bundle format %q (this verifier reads %q)", m.Format, BundleFormat)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("invalid manifest: %w", err)
	}
	return &m, nil
}

// validate checks the rules that do not need the bundle's files.
func (m *Manifest) validate() error {
	if err := checkText("client id", m.ClientID, 1, maxIDLen, false); err != nil {
		return err
	}
	if err := checkText("client name", m.ClientName, 0, maxIDLen, false); err != nil {
		return err
	}
	if err := checkText("generator", m.Generator, 0, maxIDLen, false); err != nil {
		return err
	}
	if m.PeriodEnd.Before(m.PeriodStart) {
		return errors.New("period ends before it starts")
	}
	for i, k := range m.Keys {
		if _, err := ParsePublicKey(k); err != nil {
			return fmt.Errorf("keys[%d]: %w", i, err)
		}
	}
	if len(m.Files) > maxFiles {
		return fmt.Errorf("lists %d files, more than %d", len(m.Files), maxFiles)
	}
	listed := make(map[string]*ManifestFile, len(m.Files))
	var total int64
	for i := range m.Files {
		f := &m.Files[i]
		if err := checkPath(f.Path); err != nil {
			return err
		}
		if f.Path == ManifestPath || f.Path == SignaturePath {
			return fmt.Errorf("lists %s, which cannot cover itself", f.Path)
		}
		if listed[pathKey(f.Path)] != nil {
			return fmt.Errorf("lists %s twice (names are compared ignoring case)", f.Path)
		}
		listed[pathKey(f.Path)] = f
		if f.Size < 0 || f.Size > maxFileSize {
			return fmt.Errorf("file %s: size %d outside 0 to %d bytes", f.Path, f.Size, maxFileSize)
		}
		if total += f.Size; total > maxTotalSize {
			return fmt.Errorf("files total more than %d bytes", maxTotalSize)
		}
	}
	c := &m.Chain
	if f := listed[pathKey(c.Path)]; f == nil || f.Path != c.Path {
		return fmt.Errorf("chain file %q is not listed in files", c.Path)
	}
	if c.EndSize < c.StartSize {
		return fmt.Errorf("chain ends at size %d before it starts at %d", c.EndSize, c.StartSize)
	}
	if c.StartSize == 0 && c.StartHead != (Hash{}) {
		return errors.New("chain starts at size 0 but its start head is not all zeros")
	}
	if c.EndSize == c.StartSize && c.EndHead != c.StartHead {
		return errors.New("chain holds no entries but its start and end heads differ")
	}
	seen := make(map[string]bool)
	for _, p := range c.Checkpoints {
		if f := listed[pathKey(p)]; f == nil || f.Path != p {
			return fmt.Errorf("checkpoint %q is not listed in files", p)
		}
		if p == c.Path || seen[p] {
			return fmt.Errorf("checkpoint %q is listed twice or is the chain file", p)
		}
		seen[p] = true
	}
	return nil
}
