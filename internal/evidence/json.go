package evidence

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// decodeStrict decodes one JSON value from data into v and rejects what
// encoding/json would otherwise accept silently: invalid UTF-8 (replaced by
// U+FFFD), unknown fields, duplicate object keys (the last one wins) and keys
// that differ only in case (matched to the same field), and trailing data.
// Each of these would let two JSON readers see different contents in the
// same bytes, and an auditor may well read a bundle with another tool.
func decodeStrict(data []byte, v any) error {
	if !utf8.Valid(data) {
		return errors.New("not valid UTF-8")
	}
	if err := checkKeys(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// checkKeys walks the JSON in data and fails on an object with two keys that
// are equal or equal under Unicode case folding.
func checkKeys(data []byte) error {
	type object struct {
		keys      map[string]bool
		expectKey bool
	}
	var stack []*object // nil elements are arrays
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var top *object
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if s, ok := tok.(string); ok && top != nil && top.expectKey {
			k := foldKey(s)
			if top.keys[k] {
				return fmt.Errorf("duplicate key %q", s)
			}
			top.keys[k] = true
			top.expectKey = false
			continue
		}
		// tok starts or ends a value; a value inside an object is followed by a key.
		switch tok {
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil {
			top.expectKey = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &object{keys: map[string]bool{}, expectKey: true})
		case json.Delim('['):
			stack = append(stack, nil)
		}
	}
}

// foldKey maps s to a representative of its case-folding class, so that keys
// encoding/json would match to the same struct field compare equal.
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return m
	}, s)
}
