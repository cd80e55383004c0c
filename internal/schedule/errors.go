package schedule

import (
	"errors"
	"strings"
)

// FieldError reports one invalid field of a [Window] or [Slot]. Path names
// the field the way the JSON document spells it, with indexes for lists
// ("weekly.days[2]", "blackouts[0].to"), so that callers holding the source
// document (policy files, API requests) can point at the offending line.
type FieldError struct {
	Path    string
	Message string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// FieldErrors is every problem Validate found, in document order. It is never
// empty when returned as an error. errors.As finds each *FieldError in it.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap exposes the individual field errors to errors.Is and errors.As.
func (es FieldErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// WithPrefix returns copies of the errors with prefix prepended to each
// path, for documents that embed windows ("windows[3]" + "." + "duration").
func (es FieldErrors) WithPrefix(prefix string) FieldErrors {
	out := make(FieldErrors, len(es))
	for i, e := range es {
		p := prefix
		switch {
		case e.Path == "":
		case strings.HasPrefix(e.Path, "["):
			p += e.Path
		default:
			p += "." + e.Path
		}
		out[i] = &FieldError{Path: p, Message: e.Message}
	}
	return out
}

// problems collects field errors while a spec is checked.
type problems struct {
	errs FieldErrors
}

func (p *problems) add(path, msg string) {
	p.errs = append(p.errs, &FieldError{Path: path, Message: msg})
}

func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return p.errs
}

// fieldErrors extracts the field errors from err, or wraps err as one
// pathless field error.
func fieldErrors(err error) FieldErrors {
	if fe, ok := errors.AsType[FieldErrors](err); ok {
		return fe
	}
	return FieldErrors{{Message: err.Error()}}
}
