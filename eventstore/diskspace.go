package eventstore

import (
	"fmt"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"planledger/domain"
)

// Disk space. A JetStream server whose disk fills in the middle of an
// atomic batch stores part of it (see batches.go) and then either stops
// its JetStream altogether (a write failed: "no space left on device") or
// refuses every publish ("insufficient resources", API error 10023, once
// the stored bytes pass its limit, which by default is 75% of the space
// that was free when it started, and which a restart with little free
// space makes smaller still). So the embedded server runs without that
// limit, and the store refuses appends itself, with KindNoSpace, before
// its data folder falls under a reserve: a refusal changes nothing and
// succeeds once space is freed. If the disk fills all the same (another
// program), the watch starts the embedded JetStream again once the
// reserve is free. On an external server the store cannot see the disk:
// the server's own refusals are reported as KindNoSpace.

// DefaultDiskReserve is the free space under which appends are refused.
const DefaultDiskReserve = 256 << 20

// unlimitedStore is the embedded server's store limit: none it could
// reach, so that the store's reserve, not JetStream, stops the appends.
const unlimitedStore = 1 << 62

// JetStream API errors that mean the server has no room.
const (
	codeInsufficientResources jetstream.ErrorCode = 10023
	codeStorageExceeded       jetstream.ErrorCode = 10047
)

// freeSpace is the space left to unprivileged writers in dir's filesystem.
func freeSpace(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// DiskSpace reports the free space of the data folder and the reserve the
// store keeps; ok is false when the store does not watch a disk (an
// external server, or the reserve turned off).
func (s *Store) DiskSpace() (free, reserve uint64, ok bool) {
	if s.emb == nil || s.cfg.DiskReserve < 0 {
		return 0, 0, false
	}
	free, err := freeSpace(s.cfg.DataDir)
	if err != nil {
		return 0, 0, false
	}
	return free, uint64(s.cfg.DiskReserve), true
}

// largestAppend is about the most one append can need: a request body of
// up to 1 MiB, staged and then stored.
const largestAppend = 2 << 20

// DiskLow reports whether the data folder is so near its reserve that the
// largest append would be refused (then the ledger is not ready).
func (s *Store) DiskLow() bool {
	free, reserve, ok := s.DiskSpace()
	return ok && free < reserve+largestAppend
}

// checkSpace refuses an append of size bytes that would leave the data
// folder under the reserve. An atomic batch is staged before it is
// stored, so it needs twice its size for a moment.
func (s *Store) checkSpace(msgs []*nats.Msg) error {
	free, reserve, ok := s.DiskSpace()
	if !ok {
		return nil
	}
	if !s.emb.srv.JetStreamEnabled() {
		return domain.Errorf(domain.KindNoSpace, "the embedded JetStream stopped itself when its disk filled (%s free in %s now, %s kept in reserve); it starts again by itself once the reserve is free: nothing was appended, retry then with the same event ids",
			bytesText(free), s.cfg.DataDir, bytesText(reserve))
	}
	var size uint64
	for _, m := range msgs {
		size += uint64(len(m.Subject) + len(m.Data) + 256)
	}
	if len(msgs) > 1 {
		size *= 2
	}
	if free >= reserve+size {
		return nil
	}
	return domain.Errorf(domain.KindNoSpace, "the data folder %s has %s free, and the ledger keeps %s in reserve: writes are refused until space is freed (nothing was appended; retry then with the same event ids)",
		s.cfg.DataDir, bytesText(free), bytesText(reserve))
}

// noSpaceErr reports a server's own refusal for want of room.
func noSpaceErr(err error) error {
	return domain.Errorf(domain.KindNoSpace, "the JetStream server refused the append for want of storage (%w); nothing was appended: free space on the server's disk, then retry with the same event ids", err)
}

// minRestartSpace is the free space a JetStream that stopped on a full
// disk waits for before it starts again, when the store keeps no reserve.
const minRestartSpace = 8 << 20

// restartJetStream starts the embedded server's JetStream again once the
// reserve is free, after its disk filled: JetStream stops itself on some
// write failures, and on others its stream refuses every write until it
// starts again. A start also completes a batch the disk cut short, if the
// server still holds its staged copy.
func (s *Store) restartJetStream() {
	if s.emb == nil {
		return
	}
	srv := s.emb.srv
	full := s.emb.logs.outOfSpace.Load()
	if srv.JetStreamEnabled() && !full {
		return
	}
	free, err := freeSpace(s.cfg.DataDir)
	if err != nil || free < max(uint64(max(s.cfg.DiskReserve, 0)), minRestartSpace) {
		return
	}
	if full && srv.JetStreamEnabled() {
		if err := srv.ShutdownJetStream(); err != nil {
			s.warnOnce(&s.restartFailing, "the embedded JetStream could not be stopped to start again after its disk filled; retrying", err)
			return
		}
	}
	s.emb.logs.outOfSpace.Store(false)
	opts := s.emb.opts
	err = srv.EnableJetStream(&server.JetStreamConfig{StoreDir: opts.StoreDir, SyncAlways: opts.SyncAlways,
		MaxMemory: opts.JetStreamMaxMemory, MaxStore: opts.JetStreamMaxStore, Strict: true})
	if err != nil {
		s.warnOnce(&s.restartFailing, "the embedded JetStream stopped (a full disk?) and could not be started again; retrying", err)
		return
	}
	s.restartFailing.Store(false)
	s.jsRestarts.Add(1)
	s.log.Warn("the embedded JetStream had stopped itself (its disk was full); space is free again and it runs again", "restarts", s.jsRestarts.Load(), "at", time.Now().UTC())
}

// bytesText writes a byte count for people.
func bytesText(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
