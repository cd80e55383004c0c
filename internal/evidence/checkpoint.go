package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// checkpointHeader is the first line of every checkpoint; it keeps a signed
// checkpoint from being mistaken for any other signed text.
const checkpointHeader = "patchring-evidence-checkpoint-v1"

// maxCheckpointLen bounds a signed checkpoint (text plus signature lines).
const maxCheckpointLen = 64 << 10

// Checkpoint is a signed statement that, at Time, the chain of ClientID had
// Size entries and its last entry had hash Head (all zeros when Size is 0).
// Because every entry commits to the one before it, a checkpoint commits to
// the whole chain up to Size: no entry at or below Size can later be edited,
// dropped or reordered without contradicting the checkpoint.
//
// Signed, a checkpoint is a signed note (see [PublicKey]) whose text is five
// lines, each ending in a newline:
//
//	patchring-evidence-checkpoint-v1
//	client <ClientID>
//	size <Size in decimal>
//	head <Head in lowercase hex>
//	time <Time as 2006-01-02T15:04:05.000Z>
//
// followed by a blank line and one signature line per key:
// "— <key name> <base64(4-byte key hash || 64-byte Ed25519 signature of the text)>".
type Checkpoint struct {
	ClientID string
	Size     uint64
	Head     Hash
	Time     time.Time
}

func (c Checkpoint) text() []byte {
	return fmt.Appendf(nil, "%s\nclient %s\nsize %d\nhead %s\ntime %s\n",
		checkpointHeader, c.ClientID, c.Size, c.Head, c.Time.UTC().Format(timeLayout))
}

// SignCheckpoint signs c with key and returns the signed note. Time is
// converted to UTC and truncated to the millisecond.
func SignCheckpoint(c Checkpoint, key *PrivateKey) ([]byte, error) {
	c.Time = c.Time.UTC().Truncate(time.Millisecond)
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	text := c.text()
	sigs, err := sign(text, key)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return append(append(text, '\n'), sigs...), nil
}

// VerifyCheckpoint parses a signed checkpoint and checks that it carries a
// valid signature by at least one key in trusted and no invalid signature by
// any of them. To support key rotation, pass every key the server has
// published, current and retired; each signature line names the key it was
// made with.
func VerifyCheckpoint(signed []byte, trusted []PublicKey) (Checkpoint, error) {
	c, _, err := openCheckpoint(signed, trusted)
	return c, err
}

// openCheckpoint is VerifyCheckpoint that also returns the verified keys.
func openCheckpoint(signed []byte, trusted []PublicKey) (Checkpoint, []KeyID, error) {
	if len(signed) > maxCheckpointLen {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint is %d bytes, more than %d", len(signed), maxCheckpointLen)
	}
	text, sigs, err := splitNote(signed)
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint: %w", err)
	}
	c, err := parseCheckpoint(text)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	ids, err := open(text, sigs, trusted)
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint: %w", err)
	}
	return c, ids, nil
}

// parseCheckpoint parses the text of a checkpoint, which must be exactly as
// Checkpoint.text writes it.
func parseCheckpoint(text []byte) (Checkpoint, error) {
	bad := func(format string, args ...any) (Checkpoint, error) {
		return Checkpoint{}, fmt.Errorf("malformed checkpoint: "+format, args...)
	}
	if err := checkNoteText(text); err != nil {
		return bad("%v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	if len(lines) != 5 || lines[0] != checkpointHeader {
		return bad("want 5 lines starting with %q", checkpointHeader)
	}
	var c Checkpoint
	fields := []string{"client", "size", "head", "time"}
	for i, f := range fields {
		v, ok := strings.CutPrefix(lines[i+1], f+" ")
		if !ok {
			return bad("line %d must start with %q", i+2, f+" ")
		}
		var err error
		switch f {
		case "client":
			c.ClientID = v
		case "size":
			if v != "0" && strings.HasPrefix(v, "0") {
				return bad("size %q has a leading zero", v)
			}
			c.Size, err = strconv.ParseUint(v, 10, 64)
		case "head":
			err = c.Head.UnmarshalText([]byte(v))
		case "time":
			c.Time, err = time.Parse(timeLayout, v)
		}
		if err != nil {
			return bad("%s: %v", f, err)
		}
	}
	if err := c.validate(); err != nil {
		return bad("%v", err)
	}
	if !bytes.Equal(c.text(), text) {
		return bad("not in canonical form")
	}
	return c, nil
}

func (c Checkpoint) validate() error {
	if err := checkText("client id", c.ClientID, 1, maxIDLen, false); err != nil {
		return err
	}
	if y := c.Time.Year(); y < minYear || y > maxYear {
		return fmt.Errorf("time outside years %d to %d", minYear, maxYear)
	}
	if c.Size == 0 && c.Head != (Hash{}) {
		return errors.New("a checkpoint of size 0 must have an all-zero head")
	}
	return nil
}
