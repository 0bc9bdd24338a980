package eventstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// LedgerUser is the NATS user the ledger connects as to its embedded server.
const LedgerUser = "ledger"

// OperatorUser is the embedded server's read-only user, for a person
// looking at the stream with the nats CLI (with --nats-listen).
const OperatorUser = "operator"

// OperatorPasswordFile holds the operator user's password in the data
// folder, written (mode 0600) when the embedded server listens on TCP.
const OperatorPasswordFile = "nats-operator.password"

// embedded is an in-process nats-server owning a data folder.
type embedded struct {
	srv      *server.Server
	opts     *server.Options
	lock     *os.File
	password string
	logs     *serverLog
}

// OperatorPermissions are the NATS permissions of a read-only user of the
// stream: its info, its messages (direct and API gets), and consumers to
// read it with (ordered ones, as the nats CLI makes); no publish to the
// log's subjects, no stream or consumer deletes or edits. A consumer can
// be created (JetStream's API does not tell an ordered consumer from a
// durable one by subject), never deleted: ephemeral ones go away by
// themselves.
func OperatorPermissions(stream string) *server.Permissions {
	api := "$JS.API."
	allow := []string{api + "INFO", api + "STREAM.NAMES", api + "STREAM.LIST"}
	for _, s := range LedgerStreams(stream) {
		allow = append(allow,
			api+"STREAM.INFO."+s,
			api+"STREAM.MSG.GET."+s,
			api+"DIRECT.GET."+s, api+"DIRECT.GET."+s+".>",
			api+"CONSUMER.CREATE."+s, api+"CONSUMER.CREATE."+s+".>",
			api+"CONSUMER.INFO."+s+".>",
			api+"CONSUMER.NAMES."+s, api+"CONSUMER.LIST."+s,
			api+"CONSUMER.MSG.NEXT."+s+".>",
			"$JS.FC."+s+".>",
		)
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: allow},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>", SubjectPrefix + ".>"}},
	}
}

// LedgerPermissions are the NATS permissions of the ledger's own user: it may
// do anything but delete, purge, edit or remove messages from the stream. The
// deny flags of the stream stop message deletes and purges; only permissions
// stop a whole-stream delete or an update that would add limits.
//
// The same holds for the streams of the log's Merkle tree (its tiles and
// signed checkpoints).
func LedgerPermissions(stream string) *server.Permissions {
	var deny []string
	for _, s := range LedgerStreams(stream) {
		deny = append(deny, "$JS.API.STREAM.DELETE."+s, "$JS.API.STREAM.PURGE."+s, "$JS.API.STREAM.MSG.DELETE."+s, "$JS.API.STREAM.UPDATE."+s)
	}
	// The acknowledged mark's bucket (highwater.go): a key-value store the
	// ledger writes, never deletes or purges.
	kv := "KV_" + MarkBucket
	deny = append(deny, "$JS.API.STREAM.DELETE."+kv, "$JS.API.STREAM.PURGE."+kv, "$JS.API.STREAM.MSG.DELETE."+kv)
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{">"}, Deny: deny},
		Subscribe: &server.SubjectPermission{Allow: []string{">"}},
	}
}

// LedgerStreams are the streams of a ledger whose log is stream: the log,
// then its Merkle tree's tiles and signed checkpoints.
func LedgerStreams(stream string) []string {
	return []string{stream, stream + "_TREE", stream + "_CHECKPOINTS"}
}

// startEmbedded locks dir, then starts a JetStream server storing its files
// under dir/jetstream with fsync before every acknowledgement.
func startEmbedded(cfg Config, log *slog.Logger) (*embedded, error) {
	dir := cfg.DataDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	e := &embedded{lock: lock, logs: &serverLog{log: log}}
	ok := false
	defer func() {
		if !ok {
			e.close()
		}
	}()

	if e.password, err = newPassword(); err != nil {
		return nil, err
	}
	opPassword, err := newPassword()
	if err != nil {
		return nil, err
	}

	opts := &server.Options{
		ServerName: "planledger",
		JetStream:  true,
		StoreDir:   dir,
		SyncAlways: true,
		NoSigs:     true,
		DontListen: cfg.Listen == "",
		Users: []*server.User{
			{Username: LedgerUser, Password: e.password, Permissions: LedgerPermissions(cfg.stream())},
			{Username: OperatorUser, Password: opPassword, Permissions: OperatorPermissions(cfg.stream())},
		},
		JetStreamMaxMemory: 64 << 20,
		// No limit JetStream could reach before the disk itself: the
		// store's reserve stops appends first (see diskspace.go).
		JetStreamMaxStore: unlimitedStore,
	}
	e.opts = opts
	if cfg.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("--nats-listen %q: want host:port: %w", cfg.Listen, err)
		}
		opts.Host = host
		if opts.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("--nats-listen %q: port is not a number", cfg.Listen)
		}
		if opts.Port == 0 {
			opts.Port = server.RANDOM_PORT // port 0 means "any free port", as for net.Listen
		}
		// Whoever may read the data folder may read the log; the password
		// file gives a local operator the nats CLI, read-only. The
		// ledger's own password never leaves the process.
		pwFile := filepath.Join(dir, OperatorPasswordFile)
		if err := os.WriteFile(pwFile, []byte(opPassword+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", pwFile, err)
		}
	}
	_ = os.Remove(filepath.Join(dir, "nats.password")) // the ledger's password, which earlier versions wrote
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configure embedded NATS server: %w", err)
	}
	srv.SetLoggerV2(e.logs, false, false, false)
	e.srv = srv
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		return nil, fmt.Errorf("embedded NATS server in %s did not start within 30s%s", dir, e.logs.problems())
	}
	if cfg.Listen != "" {
		log.Info("embedded NATS listening", "addr", srv.ClientURL(), "read_only_user", OperatorUser, "password_file", filepath.Join(dir, OperatorPasswordFile))
	}
	ok = true
	return e, nil
}

func (e *embedded) close() {
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
	}
	if e.lock != nil {
		_ = syscall.Flock(int(e.lock.Fd()), syscall.LOCK_UN)
		_ = e.lock.Close()
	}
}

func newPassword() (string, error) {
	pw := make([]byte, 24)
	if _, err := rand.Read(pw); err != nil {
		return "", fmt.Errorf("generate NATS password: %w", err)
	}
	return hex.EncodeToString(pw), nil
}

// ErrDataDirInUse is returned when another process holds the data folder.
var ErrDataDirInUse = errors.New("data folder in use")

// lockDir takes an exclusive, non-blocking lock on dir/LOCK. The kernel
// drops the lock when the process dies, even by SIGKILL.
func lockDir(dir string) (*os.File, error) {
	name := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(name)
		_ = f.Close()
		who := strings.TrimSpace(string(holder))
		if who == "" {
			who = "another process"
		}
		return nil, fmt.Errorf("%w: %s is locked by %s; stop it first, or reach the running server with --server URL --token T", ErrDataDirInUse, dir, who)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d\n", os.Getpid())), 0)
	return f, nil
}

// serverLog forwards nats-server's log to slog and remembers its errors,
// to explain a server that does not start.
type serverLog struct {
	log    *slog.Logger
	mu     sync.Mutex
	errors []string
	// outOfSpace is set when the server says a write found its disk full:
	// its stream then refuses every write until JetStream starts again.
	outOfSpace atomic.Bool
}

func (l *serverLog) problems() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errors) == 0 {
		return ""
	}
	return ": " + strings.Join(l.errors, "; ")
}

func (l *serverLog) recordError(msg string) {
	if strings.Contains(msg, "no space left on device") {
		l.outOfSpace.Store(true)
	}
	l.mu.Lock()
	l.errors = append(l.errors, msg)
	l.mu.Unlock()
	l.log.Error(msg, "component", "nats")
}

func (l *serverLog) Noticef(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "component", "nats")
}

func (l *serverLog) Warnf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.HasPrefix(msg, "Plaintext passwords detected") {
		return // the ledger's own in-memory password for its in-process connection
	}
	l.log.Warn(msg, "component", "nats")
}

func (l *serverLog) Fatalf(format string, v ...any) { l.recordError(fmt.Sprintf(format, v...)) }
func (l *serverLog) Errorf(format string, v ...any) { l.recordError(fmt.Sprintf(format, v...)) }
func (l *serverLog) Debugf(string, ...any)          {}
func (l *serverLog) Tracef(string, ...any)          {}
