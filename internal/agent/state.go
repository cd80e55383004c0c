package agent

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/patchring/patchring/internal/agentapi"
)

// State is what the agent keeps between runs, in state.json in the state
// directory. It holds the agent's private key, so the directory is readable
// by root (SYSTEM on Windows) only.
type State struct {
	ServerURL  string    `json:"server_url"`
	AgentID    string    `json:"agent_id"`
	AssetID    string    `json:"asset_id"`
	ClientID   string    `json:"client_id"`
	EnrolledAt time.Time `json:"enrolled_at"`
	// PrivateKey is the standard base64 of the agent's Ed25519 seed.
	PrivateKey string `json:"private_key"`
	// CommandKeys are the server's job-signing keys pinned at enrollment.
	CommandKeys []agentapi.CommandKey `json:"command_keys"`

	// AckedInventoryHash is the inventory hash the server holds.
	AckedInventoryHash string `json:"acked_inventory_hash,omitempty"`
	// InventoryRequested is set when the server asked for the inventory.
	InventoryRequested bool `json:"inventory_requested,omitempty"`
	// RejectedInventoryHash is the hash of an inventory the server refused
	// as invalid; it is not sent again (the check-ins go on without it).
	RejectedInventoryHash string    `json:"rejected_inventory_hash,omitempty"`
	LastFullInventory     time.Time `json:"last_full_inventory,omitzero"`
	LastScan              time.Time `json:"last_scan,omitzero"`
	LastCheckIn           time.Time `json:"last_check_in,omitzero"`
	LastError             string    `json:"last_error,omitempty"`
	LastErrorAt           time.Time `json:"last_error_at,omitzero"`
	// NextCheckInSeconds and ScanIntervalSeconds are the server's pacing.
	NextCheckInSeconds  int `json:"next_check_in_seconds,omitempty"`
	ScanIntervalSeconds int `json:"scan_interval_seconds,omitempty"`
	// ClockOffset is the server's clock minus the machine's, measured
	// from responses; requests are timestamped in server time.
	ClockOffset time.Duration `json:"clock_offset,omitempty"`
	// OutboxDropped counts results dropped because the outbox was full.
	OutboxDropped int64 `json:"outbox_dropped,omitempty"`
	// RefusedJobs counts jobs refused (bad signature, wrong agent, expired).
	RefusedJobs int64 `json:"refused_jobs,omitempty"`
	// Executed remembers recently run jobs, so that a job handed out again
	// (its result was lost) is not run twice.
	Executed []ExecutedJob `json:"executed,omitempty"`
	// Revoked is set when the server said the agent was revoked.
	Revoked bool `json:"revoked,omitempty"`
}

// ExecutedJob is a job the agent ran, and the result it produced.
type ExecutedJob struct {
	ID       string    `json:"id"`
	At       time.Time `json:"at"`
	ResultID string    `json:"result_id"`
}

// Enrolled reports whether the state holds an enrollment.
func (s *State) Enrolled() bool { return s.AgentID != "" && s.PrivateKey != "" }

// key returns the agent's private key.
func (s *State) key() (ed25519.PrivateKey, error) {
	seed, err := base64.StdEncoding.DecodeString(s.PrivateKey)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("the state's private key is damaged; enroll again")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// pinned returns the pinned command keys by id.
func (s *State) pinned() map[string]ed25519.PublicKey {
	keys := map[string]ed25519.PublicKey{}
	for _, k := range s.CommandKeys {
		if pub, err := agentapi.ParsePublicKey(k.PublicKey); err == nil {
			keys[k.ID] = pub
		}
	}
	return keys
}

const (
	stateFile = "state.json"
	// maxExecuted and executedFor bound the remembered jobs.
	maxExecuted = 500
	executedFor = 14 * 24 * time.Hour
)

// remember records a run job and forgets old ones.
func (s *State) remember(id, result string, now time.Time) {
	keep := s.Executed[:0]
	for _, e := range s.Executed {
		if now.Sub(e.At) < executedFor {
			keep = append(keep, e)
		}
	}
	s.Executed = append(keep, ExecutedJob{ID: id, At: now, ResultID: result})
	if len(s.Executed) > maxExecuted {
		s.Executed = s.Executed[len(s.Executed)-maxExecuted:]
	}
}

func (s *State) executed(id string) bool {
	for _, e := range s.Executed {
		if e.ID == id {
			return true
		}
	}
	return false
}

// LoadState reads the state in dir. A missing state is an empty one.
func LoadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read agent state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("agent state %s is damaged: %w", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

// SaveState writes the state atomically.
func SaveState(dir string, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode agent state: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, stateFile), append(b, '\n'))
}

// PrepareDir creates the state directory (and its outbox) readable only by
// root, or SYSTEM and Administrators on Windows, and tightens an existing
// one.
func PrepareDir(dir string) error {
	for _, d := range []string{dir, filepath.Join(dir, outboxDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create agent state directory: %w", err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("restrict agent state directory: %w", err)
		}
	}
	return protectDir(dir)
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, synced and renamed over path, so that a crash leaves either
// the old or the new content and never a torn file.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(0o600); err != nil && !isWindows {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}
