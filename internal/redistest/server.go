package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// OwnServer is a redis-server a test starts, kills and restarts itself, on
// 127.0.0.1, a free port and its own data directory (for crash and
// resharding tests that must not disturb the shared servers).
type OwnServer struct {
	t    testing.TB
	bin  string
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

// StartServer starts a redis-server ([Server]) with an append-only file
// and the extra arguments args (for example "--appendfsync", "always" or
// "--cluster-enabled", "yes"), waits until it answers, and kills it when
// the test ends.
func StartServer(t testing.TB, args ...string) *OwnServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &OwnServer{t: t, bin: Server(t), port: port, dir: t.TempDir(), args: args}
	s.Start()
	t.Cleanup(s.Kill)
	return s
}

// Addr returns the server's address.
func (s *OwnServer) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// Port returns the server's port.
func (s *OwnServer) Port() int { return s.port }

// Start starts the server (again: same port, same data directory) and
// waits until it answers PING.
func (s *OwnServer) Start() {
	s.t.Helper()
	args := append([]string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--appendonly", "yes", "--save", "", "--daemonize", "no"}, s.args...)
	s.cmd = exec.Command(s.bin, args...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialerRetries: 1})
	defer c.Close()
	for i := 0; c.Ping(context.Background()).Err() != nil; i++ {
		if i == 400 {
			s.t.Fatalf("redis-server on %s did not answer", s.Addr())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Kill sends SIGKILL to the server and waits for it to end.
func (s *OwnServer) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
