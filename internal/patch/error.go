package patch

import (
	"errors"
	"fmt"
)

// Kind classifies an error for transports: the JSON API maps each Kind to
// one HTTP status, the agent decides whether to retry from it.
type Kind uint8

// Error kinds. The zero value is KindInternal so that an unclassified error
// is never mistaken for a user mistake.
const (
	KindInternal        Kind = iota // not classified; never shown to users
	KindInvalid                     // bad input: fix the request
	KindNotFound                    // no such object, or not visible to the caller
	KindConflict                    // clashes with current state (duplicate name, in use)
	KindUnauthenticated             // no valid credentials
	KindForbidden                   // authenticated but not allowed
	KindUnavailable                 // transient (database down); retry later
	KindTooLarge                    // request body or upload over its limit
)

var kindNames = [...]string{
	KindInternal:        "internal",
	KindInvalid:         "invalid",
	KindNotFound:        "not_found",
	KindConflict:        "conflict",
	KindUnauthenticated: "unauthenticated",
	KindForbidden:       "forbidden",
	KindUnavailable:     "unavailable",
	KindTooLarge:        "too_large",
}

// String returns the stable snake_case code used in API error bodies.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is a classified error. Message is a sentence safe to show to users;
// Field names the offending input field when there is one (a JSON path such
// as "sla.matrix[2].deadline"); Err is the internal cause, logged but never
// shown.
type Error struct {
	Kind    Kind
	Message string
	Field   string
	Err     error
}

func (e *Error) Error() string {
	var s string
	switch {
	case e.Field != "" && e.Message != "":
		s = e.Field + ": " + e.Message
	case e.Message != "":
		s = e.Message
	default:
		s = e.Kind.String()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k with a formatted user-facing message.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns a KindInvalid error about one input field.
func FieldError(field, format string, args ...any) error {
	return &Error{Kind: KindInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// WrapError classifies an internal cause under kind k with a user message.
func WrapError(err error, k Kind, format string, args ...any) error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorKind returns the Kind of the first *Error in err's chain, or
// KindInternal.
func ErrorKind(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return KindInternal
}

// ErrorMessage returns the user-facing message of err: the Message of the
// first *Error in its chain, or a generic sentence for unclassified errors so
// that internal details never leak.
func ErrorMessage(err error) string {
	if e, ok := errors.AsType[*Error](err); ok && e.Message != "" {
		return e.Message
	}
	return "Internal error."
}

// ErrorField returns the Field of the first *Error in err's chain.
func ErrorField(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Field
	}
	return ""
}
