package evidence

import (
	"archive/zip"
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BundleInfo describes a bundle; it becomes the head of manifest.json.
type BundleInfo struct {
	ClientID    string
	ClientName  string
	PeriodStart time.Time // inclusive
	PeriodEnd   time.Time // exclusive
	GeneratedAt time.Time // also used as every file's modification time in the archive
	Generator   string    // program and version, e.g. "patchring 1.4.0"
	// Keys are further public keys to embed for convenience: the retired
	// keys that signed any checkpoint passed to AddChain. The bundle
	// signing key's public key is always embedded.
	Keys []PublicKey
}

// ChainSegment is the part of a client's evidence chain a bundle carries:
// Entries continue the chain after its first StartSize entries, whose last
// entry's hash is StartHead (all zeros for StartSize 0), so Entries[0].Seq
// is StartSize+1 and Entries[0].PrevHash is StartHead. Entries may be empty
// (a quiet period); StartSize and StartHead then give the chain's head.
//
// Checkpoints are signed checkpoints (see [SignCheckpoint]) whose sizes lie
// between StartSize and StartSize+len(Entries), so that a verifier can match
// each one against the entries: the periodic checkpoints of the period, and
// ideally one of the segment's end.
type ChainSegment struct {
	StartSize   uint64
	StartHead   Hash
	Entries     []Entry
	Checkpoints [][]byte
}

// BundleWriter writes an evidence bundle: a zip archive holding the files
// added with AddFile, the chain segment added with AddChain, manifest.json
// listing every file with its size and SHA-256, and manifest.sig, the
// signature of manifest.json. Files are written as they are added; Close
// writes the manifest and its signature. A BundleWriter is not safe for
// concurrent use.
type BundleWriter struct {
	zw      *zip.Writer
	key     *PrivateKey
	known   []PublicKey // keys that may have signed checkpoints
	m       Manifest
	names   map[string]bool // pathKey of every name written
	total   int64
	chained bool
	err     error // sticky: the archive is broken after a failed write
}

// NewBundleWriter starts a bundle for info, written to w and signed with key.
func NewBundleWriter(w io.Writer, info BundleInfo, key *PrivateKey) (*BundleWriter, error) {
	if key == nil {
		return nil, errors.New("new bundle: no signing key")
	}
	b := &BundleWriter{
		zw:    zip.NewWriter(w),
		key:   key,
		known: append([]PublicKey{key.Public()}, info.Keys...),
		names: map[string]bool{pathKey(ManifestPath): true, pathKey(SignaturePath): true},
		m: Manifest{
			Format:      BundleFormat,
			ClientID:    info.ClientID,
			ClientName:  info.ClientName,
			PeriodStart: info.PeriodStart.UTC(),
			PeriodEnd:   info.PeriodEnd.UTC(),
			GeneratedAt: info.GeneratedAt.UTC(),
			Generator:   info.Generator,
			Files:       []ManifestFile{},
		},
	}
	for _, k := range b.known {
		if s := k.String(); s != "" && !slices.Contains(b.m.Keys, s) {
			b.m.Keys = append(b.m.Keys, s)
		}
	}
	if err := b.checkInfo(); err != nil {
		return nil, fmt.Errorf("new bundle: %w", err)
	}
	return b, nil
}

func (b *BundleWriter) checkInfo() error {
	m := &b.m
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
	if m.GeneratedAt.IsZero() {
		return errors.New("generation time is not set")
	}
	return nil
}

// AddFile adds a file to the bundle under path, a relative slash-separated
// name such as "ephi-inventory.csv" or "reports/patch-health.pdf". Names
// must be unique ignoring case and safe to unpack on any system (no "..",
// no absolute paths, no backslashes or colons). manifest.json, manifest.sig,
// evidence-chain.jsonl and names under checkpoints/ are reserved. A file may
// be at most 256 MiB and all files together at most 1 GiB.
func (b *BundleWriter) AddFile(path string, data []byte) error {
	if pathKey(path) == pathKey(ChainPath) || strings.HasPrefix(pathKey(path), pathKey(checkpointDir)) {
		return fmt.Errorf("add %s: name is reserved for the evidence chain", path)
	}
	if err := b.write(path, data); err != nil {
		return fmt.Errorf("add %s: %w", path, err)
	}
	return nil
}

// AddChain adds the chain segment: its entries as evidence-chain.jsonl and
// each checkpoint as checkpoints/<size>.txt. It fails, writing nothing, if
// the segment does not verify: entries must continue the chain as described
// on [ChainSegment] and pass [VerifyChainFrom] for the bundle's client, and
// each checkpoint must be for the client, signed by the bundle key or a key
// in BundleInfo.Keys, of a distinct size within the segment, and agree with
// the entries. AddChain must be called exactly once.
func (b *BundleWriter) AddChain(c ChainSegment) error {
	if b.chained {
		return errors.New("add chain: chain already added")
	}
	end, endHead, cps, err := b.checkSegment(c)
	if err != nil {
		return fmt.Errorf("add chain: %w", err)
	}
	var buf bytes.Buffer
	if err := WriteChain(&buf, c.Entries); err != nil {
		return fmt.Errorf("add chain: %w", err)
	}
	if err := b.write(ChainPath, buf.Bytes()); err != nil {
		return fmt.Errorf("add chain: %w", err)
	}
	b.m.Chain = ManifestChain{
		Path:        ChainPath,
		StartSize:   c.StartSize,
		StartHead:   c.StartHead,
		EndSize:     end,
		EndHead:     endHead,
		Checkpoints: []string{},
	}
	for _, cp := range cps {
		p := checkpointDir + strconv.FormatUint(cp.size, 10) + ".txt"
		if err := b.write(p, cp.signed); err != nil {
			return fmt.Errorf("add chain: %w", err)
		}
		b.m.Chain.Checkpoints = append(b.m.Chain.Checkpoints, p)
	}
	b.chained = true
	return nil
}

type signedCheckpoint struct {
	size   uint64
	signed []byte
}

// checkSegment validates c and returns the segment's end, its head and its
// checkpoints sorted by size.
func (b *BundleWriter) checkSegment(c ChainSegment) (uint64, Hash, []signedCheckpoint, error) {
	if c.StartSize == 0 && c.StartHead != (Hash{}) {
		return 0, Hash{}, nil, errors.New("a segment starting at size 0 must have an all-zero start head")
	}
	if err := VerifyChainFrom(b.m.ClientID, c.StartSize, c.StartHead, c.Entries); err != nil {
		return 0, Hash{}, nil, err
	}
	end, head := c.StartSize, c.StartHead
	if n := len(c.Entries); n > 0 {
		end, head = c.Entries[n-1].Seq, c.Entries[n-1].Hash
	}
	var cps []signedCheckpoint
	for i, signed := range c.Checkpoints {
		cp, _, err := openCheckpoint(signed, b.known)
		if err != nil {
			return 0, Hash{}, nil, fmt.Errorf("checkpoint %d: %w", i, err)
		}
		if err := checkAgainstSegment(cp, b.m.ClientID, c.StartSize, c.StartHead, c.Entries); err != nil {
			return 0, Hash{}, nil, fmt.Errorf("checkpoint %d: %w", i, err)
		}
		if slices.ContainsFunc(cps, func(s signedCheckpoint) bool { return s.size == cp.Size }) {
			return 0, Hash{}, nil, fmt.Errorf("checkpoint %d: a second checkpoint of size %d", i, cp.Size)
		}
		cps = append(cps, signedCheckpoint{cp.Size, signed})
	}
	slices.SortFunc(cps, func(a, b signedCheckpoint) int { return cmp.Compare(a.size, b.size) })
	return end, head, cps, nil
}

// checkAgainstSegment checks that cp is for client and agrees with a chain
// segment that verified.
func checkAgainstSegment(cp Checkpoint, client string, start uint64, startHead Hash, entries []Entry) error {
	end := start + uint64(len(entries))
	switch {
	case cp.ClientID != client:
		return fmt.Errorf("is for client %q, not %q", cp.ClientID, client)
	case cp.Size < start || cp.Size > end:
		return fmt.Errorf("size %d is outside the chain segment (sizes %d to %d), so it cannot be checked", cp.Size, start, end)
	case cp.Size == start && cp.Head != startHead:
		return fmt.Errorf("head at size %d does not match the segment's start head", cp.Size)
	case cp.Size > start && cp.Head != entries[cp.Size-start-1].Hash:
		return fmt.Errorf("head at size %d does not match the hash of entry %d", cp.Size, cp.Size)
	}
	return nil
}

// write adds one file to the archive and the manifest.
func (b *BundleWriter) write(path string, data []byte) error {
	if b.err != nil {
		return b.err
	}
	if err := checkPath(path); err != nil {
		return err
	}
	switch {
	case b.names[pathKey(path)]:
		return fmt.Errorf("a file named %s (ignoring case) is already in the bundle", path)
	case len(b.m.Files) >= maxFiles:
		return fmt.Errorf("bundle already holds %d files", maxFiles)
	case int64(len(data)) > maxFileSize:
		return fmt.Errorf("file is %d bytes, more than %d", len(data), maxFileSize)
	case b.total+int64(len(data)) > maxTotalSize:
		return fmt.Errorf("files would total more than %d bytes", maxTotalSize)
	}
	if err := b.writeRaw(path, data); err != nil {
		return err
	}
	b.names[pathKey(path)] = true
	b.total += int64(len(data))
	b.m.Files = append(b.m.Files, ManifestFile{Path: path, Size: int64(len(data)), SHA256: sha256.Sum256(data)})
	return nil
}

func (b *BundleWriter) writeRaw(path string, data []byte) error {
	w, err := b.zw.CreateHeader(&zip.FileHeader{Name: path, Method: zip.Deflate, Modified: b.m.GeneratedAt})
	if err == nil {
		_, err = w.Write(data)
	}
	if err != nil {
		b.err = fmt.Errorf("write bundle: %w", err)
	}
	return b.err
}

// Close writes manifest.json and manifest.sig and finishes the archive. It
// does not close the underlying writer. It fails if AddChain was not called.
func (b *BundleWriter) Close() error {
	if b.err != nil {
		return b.err
	}
	if !b.chained {
		return errors.New("close bundle: no chain added")
	}
	manifest, err := encodeManifest(&b.m)
	if err != nil {
		return fmt.Errorf("close bundle: %w", err)
	}
	if len(manifest) > maxManifestLen {
		return fmt.Errorf("close bundle: manifest is %d bytes, more than %d", len(manifest), maxManifestLen)
	}
	sig, err := sign(manifest, b.key)
	if err != nil {
		return fmt.Errorf("close bundle: sign manifest: %w", err)
	}
	if err := b.writeRaw(ManifestPath, manifest); err != nil {
		return err
	}
	if err := b.writeRaw(SignaturePath, sig); err != nil {
		return err
	}
	if err := b.zw.Close(); err != nil {
		return fmt.Errorf("close bundle: %w", err)
	}
	b.err = errors.New("bundle already closed")
	return nil
}
