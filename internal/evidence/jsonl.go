package evidence

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// timeLayout is how entries, checkpoints and manifests spell times: RFC 3339
// in UTC with exactly three fractional digits.
const timeLayout = "2006-01-02T15:04:05.000Z"

// maxLineLen bounds one line of a JSON Lines chain. A valid entry encodes to
// at most 64 KiB; JSON escaping can make it up to six times longer.
const maxLineLen = 1 << 20

// entryJSON is the JSON form of an Entry: one line of evidence-chain.jsonl.
type entryJSON struct {
	Client  string            `json:"client"`
	Seq     uint64            `json:"seq"`
	Time    string            `json:"time"`
	Type    EventType         `json:"type"`
	Actor   Actor             `json:"actor"`
	Subject *Subject          `json:"subject,omitempty"`
	Details map[string]string `json:"details,omitempty"`
	Prev    Hash              `json:"prev"`
	Hash    Hash              `json:"hash"`
}

// MarshalJSON encodes e as one JSON object with the keys client, seq, time,
// type, actor {kind, id, name}, subject {asset, update, cycle, exception},
// details, prev and hash. Empty optional fields are left out.
func (e Entry) MarshalJSON() ([]byte, error) {
	j := entryJSON{
		Client:  e.ClientID,
		Seq:     e.Seq,
		Time:    e.Time.UTC().Format(timeLayout),
		Type:    e.Type,
		Actor:   e.Actor,
		Details: e.Details,
		Prev:    e.PrevHash,
		Hash:    e.Hash,
	}
	if e.Subject != (Subject{}) {
		j.Subject = &e.Subject
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the form written by MarshalJSON. It rejects unknown
// and duplicate keys and invalid UTF-8. It does not check the entry's hash or
// field rules; [VerifyChain] does.
func (e *Entry) UnmarshalJSON(data []byte) error {
	var j entryJSON
	if err := decodeStrict(data, &j); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, j.Time)
	if err != nil {
		return fmt.Errorf("time: %w", err)
	}
	*e = Entry{
		ClientID: j.Client,
		Seq:      j.Seq,
		Time:     t.UTC(),
		Type:     j.Type,
		Actor:    j.Actor,
		Details:  j.Details,
		PrevHash: j.Prev,
		Hash:     j.Hash,
	}
	if j.Subject != nil {
		e.Subject = *j.Subject
	}
	return nil
}

// WriteChain writes entries as JSON Lines: each entry's JSON form (see
// [Entry.MarshalJSON]) followed by a newline.
func WriteChain(w io.Writer, entries []Entry) error {
	bw := bufio.NewWriter(w)
	for i := range entries {
		b, err := entries[i].MarshalJSON()
		if err != nil {
			return fmt.Errorf("encode entry %d: %w", entries[i].Seq, err)
		}
		bw.Write(b)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// ReadChain decodes JSON Lines written by [WriteChain]. It fails on the first
// line that is empty, longer than 1 MiB or not an entry, naming the line. It
// does not verify the chain; call [VerifyChain] for that.
func ReadChain(r io.Reader) ([]Entry, error) {
	entries, errs := readChain(r)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return entries, nil
}

// lineError reports a line of a JSON Lines chain that is not an entry.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

// readChain decodes every line it can and reports every line it cannot, so a
// verifier can still check the rest of a damaged file. An error reading r is
// returned as the last lineError.
func readChain(r io.Reader) ([]Entry, []*lineError) {
	var (
		entries []Entry
		errs    []*lineError
	)
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := readLine(br)
		if err == io.EOF {
			return entries, errs
		}
		if err != nil {
			return entries, append(errs, &lineError{n, err})
		}
		if len(bytes.TrimSpace(line)) == 0 {
			errs = append(errs, &lineError{n, errors.New("empty line")})
			continue
		}
		var e Entry
		if err := e.UnmarshalJSON(line); err != nil {
			errs = append(errs, &lineError{n, fmt.Errorf("not a valid entry: %w", err)})
			continue
		}
		entries = append(entries, e)
	}
}

// readLine returns the next line without its newline; the last line may lack
// one. Lines longer than maxLineLen are an error, after which reading stops.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLineLen+1 {
			return nil, fmt.Errorf("line longer than %d bytes", maxLineLen)
		}
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(line) > 0:
			return line, nil
		default:
			return nil, err
		}
	}
}
