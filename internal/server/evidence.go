package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/patchring/patchring/internal/evidence"
	"github.com/patchring/patchring/internal/patch"
)

// The evidence service: the server's evidence signing key (generated on
// first start, rotatable, published), the background loop that signs
// every client's chain head into a checkpoint, and reading and verifying a
// client's chain. The format and all cryptography are package evidence's;
// this file only decides when to sign what, and with which key.
//
// Why the server verifies before it signs: a checkpoint is the server's
// word that the chain up to its size is what was recorded. Signing a head
// after someone edited rows in the database would launder the edit, so
// every new checkpoint is signed only after the entries since the previous
// checkpoint verified against it.

// EvidenceLog is what the evidence service reads of the chains: the
// domain store plus the raw entries that package evidence verifies.
type EvidenceLog interface {
	patch.EvidenceStore
	// EvidenceChain returns a client's entries with Seq from..to, inclusive.
	EvidenceChain(ctx context.Context, client patch.ClientID, from, to uint64) ([]evidence.Entry, error)
}

// EvidenceOptions configure the evidence service and the reports.
type EvidenceOptions struct {
	// KeyName names new signing keys; the creation date is appended
	// ("patchring.example-msp.com/2026-11-23"). When empty, a rotation
	// keeps the name of the key it replaces, and a first key is called
	// DefaultEvidenceKeyName. It must be printable ASCII without spaces,
	// '/' or '+'.
	KeyName string
	// CheckpointInterval is how often RunEvidenceCheckpointer signs the
	// chain heads that moved; DefaultCheckpointInterval when zero.
	CheckpointInterval time.Duration
	// ReportInterval is how often RunReportScheduler looks for reports to
	// generate; DefaultReportInterval when zero.
	ReportInterval time.Duration
	// Generator names the program in bundles ("patchring 1.4.0").
	Generator string
	// Rand is the key generator's randomness; crypto/rand when nil.
	Rand io.Reader
}

// Defaults of EvidenceOptions.
const (
	DefaultEvidenceKeyName    = "patchring-evidence"
	DefaultCheckpointInterval = 15 * time.Minute
	DefaultReportInterval     = time.Hour
)

func (o EvidenceOptions) withDefaults() EvidenceOptions {
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.ReportInterval <= 0 {
		o.ReportInterval = DefaultReportInterval
	}
	if o.Generator == "" {
		o.Generator = "patchring"
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return o
}

// evidenceSystem returns ctx acting as the server itself.
func evidenceSystem(ctx context.Context, what string) context.Context {
	return patch.NewContextWithActor(ctx, patch.SystemActor(what))
}

// EvidenceKey is a published evidence signing key.
type EvidenceKey struct {
	// Public is the key in the text form auditors pass to
	// `patchring evidence verify --key`.
	Public string `json:"public"`
	// KeyID is "<name>+<hash>", as signatures name it.
	KeyID     string    `json:"key_id"`
	Current   bool      `json:"current"`
	CreatedAt time.Time `json:"created_at"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
}

// newEvidenceKey generates a key named after the options (or else the key
// it replaces, so a rotation from the host-side CLI keeps the server's
// name) and the date.
func (s *Server) newEvidenceKey(previous *evidence.PrivateKey) (*patch.ServerKey, *evidence.PrivateKey, error) {
	o := s.evidence.withDefaults()
	name := o.KeyName
	if name == "" && previous != nil {
		name, _, _ = strings.Cut(previous.Public().ID().Name, "/")
	}
	if name == "" {
		name = DefaultEvidenceKeyName
	}
	now := s.now().UTC()
	priv, err := evidence.GenerateKey(o.Rand, name+"/"+now.Format("2006-01-02"))
	if err != nil {
		return nil, nil, fmt.Errorf("generate evidence key: %w", err)
	}
	return &patch.ServerKey{
		ID:      patch.NewID("key", now),
		Purpose: patch.KeyEvidence,
		Public:  priv.Public().String(),
		Private: evidence.MarshalPrivateKey(priv),
	}, priv, nil
}

// evidenceKey returns the current signing key, creating it on first use
// (EnsureKey makes concurrent servers agree on one). It is read from the
// store every time, so a rotation by another server takes effect at once.
func (s *Server) evidenceKey(ctx context.Context) (*evidence.PrivateKey, error) {
	sys := evidenceSystem(ctx, "evidence key")
	k, err := s.st.Keys.ActiveKey(sys, patch.KeyEvidence)
	if patch.ErrorKind(err) == patch.KindNotFound {
		nk, _, gerr := s.newEvidenceKey(nil)
		if gerr != nil {
			return nil, gerr
		}
		k, err = s.st.Keys.EnsureKey(sys, nk)
	}
	if err != nil {
		return nil, fmt.Errorf("evidence key: %w", err)
	}
	priv, err := evidence.ParsePrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("stored evidence key %s: %w", k.ID, err)
	}
	return priv, nil
}

// EnsureEvidenceKey creates the evidence signing key if there is none, so
// that a server publishes its key from its first start.
func (s *Server) EnsureEvidenceKey(ctx context.Context) error {
	_, err := s.evidenceKey(ctx)
	return err
}

// EvidenceKeys lists the evidence signing keys, current first. Keys are
// public: any authenticated caller may list them.
func (s *Server) EvidenceKeys(ctx context.Context) ([]EvidenceKey, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	return s.PublishedEvidenceKeys(ctx)
}

// PublishedEvidenceKeys lists the evidence signing keys, current first,
// without authentication: they are published for auditors at a
// well-known path.
func (s *Server) PublishedEvidenceKeys(ctx context.Context) ([]EvidenceKey, error) {
	ks, err := s.st.Keys.FindKeys(evidenceSystem(ctx, "publish evidence keys"), patch.KeyEvidence)
	if err != nil {
		return nil, err
	}
	out := make([]EvidenceKey, 0, len(ks))
	for _, k := range ks {
		pub, err := evidence.ParsePublicKey(k.Public)
		if err != nil {
			return nil, fmt.Errorf("stored evidence key %s: %w", k.ID, err)
		}
		out = append(out, EvidenceKey{Public: pub.String(), KeyID: pub.ID().String(), Current: k.RetiredAt.IsZero(),
			CreatedAt: k.CreatedAt, RetiredAt: k.RetiredAt})
	}
	return out, nil
}

// FormatEvidenceKeys writes keys as the key file auditors keep: one key
// per line, with comments saying which is current. `patchring evidence
// verify --key FILE` reads it.
func FormatEvidenceKeys(keys []EvidenceKey) string {
	var b strings.Builder
	b.WriteString("# Patchring evidence signing keys (current and retired).\n")
	b.WriteString("# Verify a bundle offline with: patchring evidence verify BUNDLE --key THIS-FILE\n")
	for _, k := range keys {
		state := "current"
		if !k.Current {
			state = "retired " + k.RetiredAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "# %s, created %s\n%s\n", state, k.CreatedAt.UTC().Format(time.RFC3339), k.Public)
	}
	return b.String()
}

// trustedKeys returns every evidence public key, current and retired.
func (s *Server) trustedKeys(ctx context.Context) ([]evidence.PublicKey, error) {
	ks, err := s.PublishedEvidenceKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]evidence.PublicKey, len(ks))
	for i, k := range ks {
		if out[i], err = evidence.ParsePublicKey(k.Public); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// KeyRotation is the result of rotating the evidence key.
type KeyRotation struct {
	Old EvidenceKey `json:"old"`
	New EvidenceKey `json:"new"`
	// Clients is how many chains recorded the rotation.
	Clients int `json:"clients"`
}

// RotateEvidenceKey replaces the evidence signing key. Every chain head is
// first signed with the old key, then the rotation is recorded as a
// key_rotated event in every client's chain (naming both public keys), and
// the new heads are signed with the new key, so the hand-over itself is
// covered by both. The old key stays published as retired: signatures
// made with it still verify. MSP admins only.
func (s *Server) RotateEvidenceKey(ctx context.Context, reason string) (*KeyRotation, error) {
	a, err := patch.Authorize(ctx, patch.PermManageClients)
	if err != nil {
		return nil, err
	}
	if scope := patch.ScopeOf(a); !scope.All {
		return nil, patch.Errorf(patch.KindForbidden, "Only MSP staff can rotate the evidence key.")
	}
	if len(reason) > 500 {
		return nil, patch.FieldError("reason", "must be at most 500 characters")
	}
	old, err := s.evidenceKey(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.SignCheckpoints(ctx); err != nil {
		return nil, fmt.Errorf("sign heads before rotation: %w", err)
	}
	nk, priv, err := s.newEvidenceKey(old)
	if err != nil {
		return nil, err
	}
	details := map[string]string{"old_key": old.Public().String(), "new_key": priv.Public().String()}
	if reason != "" {
		details["reason"] = reason
	}
	if err := s.st.EvidenceKeys.RotateEvidenceKey(ctx, nk, details); err != nil {
		return nil, err
	}
	n, err := s.SignCheckpoints(ctx)
	if err != nil {
		return nil, fmt.Errorf("sign heads after rotation: %w", err)
	}
	s.logger.InfoContext(ctx, "evidence key rotated", "old", old.Public().ID().String(), "new", priv.Public().ID().String())
	keys, err := s.PublishedEvidenceKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := &KeyRotation{Clients: n}
	for _, k := range keys {
		switch k.KeyID {
		case old.Public().ID().String():
			out.Old = k
		case priv.Public().ID().String():
			out.New = k
		}
	}
	return out, nil
}

// SignCheckpoints signs the head of every chain that moved since its last
// checkpoint, after verifying the entries since then, and returns how
// many it signed. A chain that does not verify is not signed; its error
// is returned after the other chains were signed.
func (s *Server) SignCheckpoints(ctx context.Context) (int, error) {
	sys := evidenceSystem(ctx, "evidence checkpointer")
	key, err := s.evidenceKey(sys)
	if err != nil {
		return 0, err
	}
	heads, err := s.st.Evidence.EvidenceHeads(sys)
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, h := range heads {
		_, created, err := s.ensureCheckpoint(sys, key, h.ClientID, h.Seq, s.now())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if created {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// ensureCheckpoint returns the checkpoint of client's chain at size,
// signing one stating the chain at instant at if there is none. Before
// signing, it verifies the entries after the newest earlier checkpoint
// (whose signature it checks) up to size. ctx must be unscoped.
func (s *Server) ensureCheckpoint(ctx context.Context, key *evidence.PrivateKey, client patch.ClientID, size uint64, at time.Time) (*patch.EvidenceCheckpoint, bool, error) {
	if size == 0 {
		return nil, false, nil
	}
	found, err := s.st.Checkpoints.FindCheckpoints(ctx, patch.CheckpointFilter{ClientID: client, MaxSize: &size, Desc: true, Limit: 1})
	if err != nil {
		return nil, false, err
	}
	var (
		fromSize uint64
		fromHead evidence.Hash
	)
	if len(found) == 1 {
		if found[0].Size == size {
			return found[0], false, nil
		}
		trusted, err := s.trustedKeys(ctx)
		if err != nil {
			return nil, false, err
		}
		cp, err := evidence.VerifyCheckpoint([]byte(found[0].Signed), trusted)
		if err != nil {
			return nil, false, fmt.Errorf("client %s: stored checkpoint at size %d does not verify: %w", client, found[0].Size, err)
		}
		fromSize, fromHead = cp.Size, cp.Head
	}
	head := fromHead
	for from := fromSize + 1; from <= size; from += chainBatch {
		to := min(from+chainBatch-1, size)
		es, err := s.st.Evidence.EvidenceChain(ctx, client, from, to)
		if err != nil {
			return nil, false, err
		}
		if err := evidence.VerifyChainFrom(string(client), from-1, head, es); err != nil {
			return nil, false, fmt.Errorf("client %s: evidence chain does not verify, not signing it: %w", client, err)
		}
		if uint64(len(es)) != to-from+1 {
			return nil, false, fmt.Errorf("client %s: evidence chain ends at %d, before %d", client, from-1+uint64(len(es)), to)
		}
		head = es[len(es)-1].Hash
	}
	c := evidence.Checkpoint{ClientID: string(client), Size: size, Head: head, Time: at}
	signed, err := evidence.SignCheckpoint(c, key)
	if err != nil {
		return nil, false, fmt.Errorf("sign checkpoint of %s at %d: %w", client, size, err)
	}
	return s.st.Checkpoints.SaveCheckpoint(ctx, &patch.EvidenceCheckpoint{ClientID: client, Size: size, Head: head.String(),
		At: at.UTC().Truncate(time.Millisecond), KeyID: key.Public().ID().String(), Signed: string(signed)})
}

// chainBatch is how many entries are read at a time when verifying.
const chainBatch = 5000

// RunEvidenceCheckpointer signs the chain heads that moved, at once and
// then every CheckpointInterval, until ctx is done. A chain that fails to
// verify is logged at error level and left unsigned; the loop goes on.
func (s *Server) RunEvidenceCheckpointer(ctx context.Context) error {
	o := s.evidence.withDefaults()
	for {
		n, err := s.SignCheckpoints(ctx)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			s.logger.ErrorContext(ctx, "evidence checkpoints", "signed", n, "err", err)
		case n > 0:
			s.logger.InfoContext(ctx, "evidence checkpoints signed", "count", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.CheckpointInterval):
		}
	}
}

// EvidenceEntries lists a client's chain entries in sequence order, paged
// (f.AfterSeq or f.Offset, f.Limit).
func (s *Server) EvidenceEntries(ctx context.Context, f patch.EvidenceFilter) ([]*patch.EvidenceEntry, int, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, 0, err
	}
	if _, err := s.st.Clients.FindClientByID(ctx, f.ClientID); err != nil {
		return nil, 0, err
	}
	return s.st.Evidence.FindEvidence(ctx, f)
}

// EvidenceCheckpoints lists a client's signed checkpoints.
func (s *Server) EvidenceCheckpoints(ctx context.Context, client patch.ClientID) ([]*patch.EvidenceCheckpoint, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	if _, err := s.st.Clients.FindClientByID(ctx, client); err != nil {
		return nil, err
	}
	return s.st.Checkpoints.FindCheckpoints(ctx, patch.CheckpointFilter{ClientID: client})
}

// ChainVerification is the result of verifying a client's chain on the
// server.
type ChainVerification struct {
	ClientID patch.ClientID `json:"client_id"`
	OK       bool           `json:"ok"`
	// Entries is how many entries were checked; Head is the last one's hash.
	Entries uint64 `json:"entries"`
	Head    string `json:"head"`
	// Checkpoints is how many signed checkpoints verified and matched.
	Checkpoints int `json:"checkpoints"`
	// LastCheckpoint is the size of the newest checkpoint, 0 if none:
	// entries after it are not yet signed.
	LastCheckpoint uint64 `json:"last_checkpoint"`
	// Problems name every problem found, with the entry or checkpoint.
	Problems []string `json:"problems"`
}

// VerifyEvidenceChain checks a client's whole chain as stored: every
// entry's hash and link, and every checkpoint's signature (by any
// published key) and head. It is the server-side counterpart of
// `patchring evidence verify` and reads the chain in batches.
func (s *Server) VerifyEvidenceChain(ctx context.Context, client patch.ClientID) (*ChainVerification, error) {
	if _, err := patch.Authorize(ctx, patch.PermRead); err != nil {
		return nil, err
	}
	if _, err := s.st.Clients.FindClientByID(ctx, client); err != nil {
		return nil, err
	}
	trusted, err := s.trustedKeys(ctx)
	if err != nil {
		return nil, err
	}
	cps, err := s.st.Checkpoints.FindCheckpoints(ctx, patch.CheckpointFilter{ClientID: client})
	if err != nil {
		return nil, err
	}
	// Every checkpoint's signature first; the heads are matched while the
	// chain is read.
	want := map[uint64]evidence.Hash{}
	res := &ChainVerification{ClientID: client, Problems: []string{}}
	for _, c := range cps {
		cp, err := evidence.VerifyCheckpoint([]byte(c.Signed), trusted)
		if err != nil {
			res.Problems = append(res.Problems, fmt.Sprintf("checkpoint at size %d: %v", c.Size, err))
			continue
		}
		if cp.ClientID != string(client) || cp.Size != c.Size {
			res.Problems = append(res.Problems, fmt.Sprintf("checkpoint at size %d: signed for client %s at size %d", c.Size, cp.ClientID, cp.Size))
			continue
		}
		want[cp.Size] = cp.Head
		res.LastCheckpoint = max(res.LastCheckpoint, cp.Size)
	}
	var (
		size   uint64
		head   evidence.Hash
		broken bool
	)
	for {
		es, err := s.st.Evidence.EvidenceChain(ctx, client, size+1, size+chainBatch)
		if err != nil {
			return nil, err
		}
		if len(es) == 0 {
			break
		}
		if !broken {
			if err := evidence.VerifyChainFrom(string(client), size, head, es); err != nil {
				res.Problems = append(res.Problems, err.Error())
				broken = true // later links are meaningless once one breaks
			}
		}
		for _, e := range es {
			if h, ok := want[e.Seq]; ok {
				if h != e.Hash {
					res.Problems = append(res.Problems, fmt.Sprintf("checkpoint at size %d: head does not match entry %d (the chain was rewritten?)", e.Seq, e.Seq))
				} else {
					res.Checkpoints++
				}
				delete(want, e.Seq)
			}
		}
		last := es[len(es)-1]
		size, head = last.Seq, last.Hash
		if uint64(len(es)) < chainBatch {
			break
		}
	}
	for _, sz := range slices.Sorted(maps.Keys(want)) {
		res.Problems = append(res.Problems, fmt.Sprintf("checkpoint at size %d: the chain has only %d entries (entries were deleted?)", sz, size))
	}
	res.Entries, res.Head = size, head.String()
	res.OK = len(res.Problems) == 0
	return res, nil
}
