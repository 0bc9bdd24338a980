package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error by what the caller can do about it. The list only
// ever grows at the end: its values are mapped to HTTP statuses and logged.
type Kind int

const (
	// KindInternal is a bug or an unexpected failure; only these are logged.
	KindInternal Kind = iota
	// KindInvalid is input that breaks a rule: fix the request.
	KindInvalid
	// KindNotFound is a reference to something that does not exist.
	KindNotFound
	// KindConflict is a lost race or a reused id: reload and decide again.
	KindConflict
	// KindForbidden is a principal acting outside its scope.
	KindForbidden
	// KindUnavailable is a dependency that is down: retry later, nothing changed.
	KindUnavailable
	// KindNoSpace is a store without the room to take the write: nothing
	// changed; it succeeds once space is freed.
	KindNoSpace
)

var kindNames = [...]string{"internal", "invalid", "not found", "conflict", "forbidden", "unavailable", "no space"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Problem is one thing wrong with a request: a JSON Pointer (RFC 6901) to the
// offending member of the request and a message saying what would be right.
type Problem struct {
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

func (p Problem) String() string {
	if p.Pointer == "" {
		return p.Detail
	}
	return p.Pointer + ": " + p.Detail
}

// VersionConflict says that an aggregate was not at the version a writer
// expected. Current is the version it is at.
type VersionConflict struct {
	Aggregate Ref
	Expected  uint64
	Current   uint64
}

// Error is the one error type of the ledger.
type Error struct {
	Kind     Kind
	Message  string
	Problems []Problem
	// Conflict is set on a KindConflict error caused by a version mismatch.
	Conflict *VersionConflict
	// Err is the underlying cause, kept for errors.Is and errors.As. Message
	// already says what it needs to of it: Error does not repeat it.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	for i, p := range e.Problems {
		if i == 0 && e.Message != "" {
			b.WriteString(": ")
		} else if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind with a formatted message. A
// %w verb in the format wraps its argument as the cause.
func Errorf(kind Kind, format string, args ...any) *Error {
	wrapped := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Message: wrapped.Error(), Err: errors.Unwrap(wrapped)}
}

// Invalid returns a KindInvalid error listing the problems.
func Invalid(message string, problems ...Problem) *Error {
	return &Error{Kind: KindInvalid, Message: message, Problems: problems}
}

// ErrorKind returns the kind of the first *Error in err's chain, and
// KindInternal for any other error. A nil error has no kind; it returns
// KindInternal too, so check err != nil first.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsKind reports whether err carries an *Error of kind k.
func IsKind(err error, k Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == k
}
