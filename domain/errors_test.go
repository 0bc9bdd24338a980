package domain_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"planledger/domain"
)

func TestErrors(t *testing.T) {
	inv := domain.Invalid("event 2", domain.Problem{Pointer: "/data/year", Detail: "is required"}, domain.Problem{Pointer: "/id", Detail: "is empty"})
	if got, want := inv.Error(), "event 2: /data/year: is required; /id: is empty"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("append society/x: %w", domain.Errorf(domain.KindUnavailable, "publish: %w", io.ErrUnexpectedEOF))
	if domain.ErrorKind(wrapped) != domain.KindUnavailable || !domain.IsKind(wrapped, domain.KindUnavailable) {
		t.Errorf("kind of %v = %v, want unavailable", wrapped, domain.ErrorKind(wrapped))
	}
	if !errors.Is(wrapped, io.ErrUnexpectedEOF) {
		t.Error("the cause is not reachable with errors.Is")
	}
	if got := wrapped.Error(); got != "append society/x: publish: unexpected EOF" {
		t.Errorf("Error() = %q repeats or drops the cause", got)
	}
	if domain.ErrorKind(io.EOF) != domain.KindInternal {
		t.Error("a foreign error is not internal")
	}
	for k := domain.KindInternal; k <= domain.KindUnavailable; k++ {
		if k.String() == "" || k.String()[0] == 'k' {
			t.Errorf("kind %d has no name", k)
		}
	}
}
