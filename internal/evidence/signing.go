package evidence

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// Signing errors, distinguished so that a verifier can say exactly why a
// signature was not accepted.
var (
	errUnsigned = errors.New("no signature")
	errBadText  = errors.New("signed text must be UTF-8 without control characters other than newline, and end in a newline")
)

// untrustedError reports a note whose signatures are all by keys outside the
// trusted set.
type untrustedError struct{ keys []KeyID }

func (e *untrustedError) Error() string {
	names := make([]string, len(e.keys))
	for i, k := range e.keys {
		names[i] = k.String()
	}
	if len(names) == 1 {
		return fmt.Sprintf("signed by key %s, which is not in the trusted set", names[0])
	}
	return fmt.Sprintf("signed by keys %s, none of which is in the trusted set", strings.Join(names, ", "))
}

// badSignatureError reports a signature by a trusted key that does not verify.
type badSignatureError struct{ key KeyID }

func (e *badSignatureError) Error() string {
	return fmt.Sprintf("signature by key %s is invalid (the signed text was altered, or the signature was)", e.key)
}

// sign returns the signature lines of text signed by k: the part of a signed
// note after the blank line.
func sign(text []byte, k *PrivateKey) ([]byte, error) {
	if err := checkNoteText(text); err != nil {
		return nil, err
	}
	msg, err := note.Sign(&note.Note{Text: string(text)}, k.signer)
	if err != nil {
		return nil, err
	}
	return msg[len(text)+1:], nil
}

// open verifies the signature lines sigs over text with trusted and returns
// the keys whose signatures verified. Every signature by a trusted key must
// verify; signatures by other keys are ignored unless no trusted key signed.
func open(text, sigs []byte, trusted []PublicKey) ([]KeyID, error) {
	if err := checkNoteText(text); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(sigs)) == 0 {
		return nil, errUnsigned
	}
	msg := make([]byte, 0, len(text)+1+len(sigs))
	msg = append(append(append(msg, text...), '\n'), sigs...)
	n, err := note.Open(msg, verifiers(trusted))
	var (
		unverified *note.UnverifiedNoteError
		invalid    *note.InvalidSignatureError
	)
	switch {
	case errors.As(err, &unverified):
		e := &untrustedError{}
		for _, s := range unverified.Note.UnverifiedSigs {
			e.keys = append(e.keys, KeyID{s.Name, s.Hash})
		}
		return nil, e
	case errors.As(err, &invalid):
		return nil, &badSignatureError{KeyID{invalid.Name, invalid.Hash}}
	case err != nil:
		return nil, fmt.Errorf("malformed signature lines: %w", err)
	case n.Text != string(text):
		// The signature lines contain a blank line, so note.Open split the
		// message elsewhere and verified a different text.
		return nil, errors.New("malformed signature lines: blank line among the signatures")
	}
	ids := make([]KeyID, len(n.Sigs))
	for i, s := range n.Sigs {
		ids[i] = KeyID{s.Name, s.Hash}
	}
	return ids, nil
}

// splitNote splits a signed note into its text (ending in a newline) and its
// signature lines.
func splitNote(msg []byte) (text, sigs []byte, err error) {
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		return nil, nil, errors.New("malformed signed note: no blank line before the signatures")
	}
	return msg[:i+1], msg[i+2:], nil
}

// checkNoteText applies the signed-note rules for text.
func checkNoteText(text []byte) error {
	if len(text) == 0 || text[len(text)-1] != '\n' || !utf8.Valid(text) {
		return errBadText
	}
	for _, c := range text {
		if c < 0x20 && c != '\n' {
			return errBadText
		}
	}
	return nil
}
