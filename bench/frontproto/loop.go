package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/redcon"
	"golang.org/x/sys/unix"

	"github.com/rkv/rkv/consensus"
	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/store"
)

// requestTimeout bounds a batch's wait for the cluster, as resp/'s default.
const requestTimeout = 10 * time.Second

// server is the event loop and the connections it owns.
type server struct {
	rep    *replica.Replica
	epfd   int
	lfd    int // the listener
	wakefd int // an eventfd: batches finished, or stop
	conns  map[int]*conn
	// queued are the connections whose input is to be parsed at the end
	// of this iteration.
	queued []*conn
	args   [][]byte // ReadNextCommand's reused slice
	// batches counts the batches still running (stop waits for none).
	batches sync.WaitGroup

	mu       sync.Mutex
	finished []*conn // connections whose batch wrote its replies, under mu
	stopped  bool    // under mu
}

// conn is one client connection. The loop owns it, except that while busy
// its out belongs to the goroutine of the batch that holds it.
type conn struct {
	fd  int
	in  []byte // bytes read and not yet parsed
	out []byte // replies not yet written
	// busy is set while a batch holds the connection: nothing more of it
	// runs until the batch has written its replies.
	busy   bool
	queued bool
	// gone is set when the peer closed or the socket failed: the socket
	// closes once no batch holds it.
	gone bool
	// polling is set while the loop waits for room to write out.
	polling bool
}

// batch is the SETs (datas) or the GETs (keys) of one iteration; owner[i]
// asked for entry i, and conns lists each owner once.
type batch struct {
	conns []*conn
	owner []*conn
	datas [][]byte
	keys  [][]byte
}

func (b *batch) add(c *conn) {
	if len(b.conns) == 0 || b.conns[len(b.conns)-1] != c {
		b.conns = append(b.conns, c)
	}
	b.owner = append(b.owner, c)
}

func newServer(addr string, rep *replica.Replica) (*server, error) {
	ta, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, err
	}
	s := &server{rep: rep, conns: make(map[int]*conn), epfd: -1, lfd: -1, wakefd: -1}
	if err := s.open(ta); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *server) open(ta *net.TCPAddr) (err error) {
	if s.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return err
	}
	if s.wakefd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return err
	}
	if s.lfd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(s.lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return err
	}
	sa := &unix.SockaddrInet4{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To4())
	if err := unix.Bind(s.lfd, sa); err != nil {
		return fmt.Errorf("listening on %s: %w", ta, err)
	}
	if err := unix.Listen(s.lfd, 1024); err != nil {
		return err
	}
	for _, fd := range []int{s.lfd, s.wakefd} {
		if err := s.poll(unix.EPOLL_CTL_ADD, fd, unix.EPOLLIN); err != nil {
			return err
		}
	}
	return nil
}

func (s *server) poll(op, fd int, events uint32) error {
	return unix.EpollCtl(s.epfd, op, fd, &unix.EpollEvent{Events: events, Fd: int32(fd)})
}

// stop ends loop; safe from any goroutine.
func (s *server) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.wake()
}

func (s *server) wake() {
	var one = [8]byte{1}
	unix.Write(s.wakefd, one[:])
}

// close waits for the running batches and closes every socket; after loop
// returned.
func (s *server) close() {
	s.batches.Wait()
	for fd := range s.conns {
		unix.Close(fd)
	}
	for _, fd := range []int{s.lfd, s.wakefd, s.epfd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// loop serves clients until stop.
func (s *server) loop() {
	runtime.LockOSThread()
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(s.epfd, events, -1)
		if err != nil && err != unix.EINTR {
			panic(err)
		}
		for _, ev := range events[:max(n, 0)] {
			switch fd := int(ev.Fd); fd {
			case s.lfd:
				s.accept()
			case s.wakefd:
				if !s.takeFinished() {
					return
				}
			default:
				c := s.conns[fd]
				if c == nil {
					continue
				}
				if ev.Events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
					s.read(c)
				}
				if ev.Events&unix.EPOLLOUT != 0 && !c.busy && !c.gone {
					s.flush(c)
				}
			}
		}
		var sets, gets batch
		for _, c := range s.queued {
			c.queued = false
			s.parse(c, &sets, &gets)
		}
		clear(s.queued)
		s.queued = s.queued[:0]
		if len(sets.conns) > 0 {
			s.start(&sets, s.propose)
		}
		if len(gets.conns) > 0 {
			s.start(&gets, s.serveReads)
		}
	}
}

func (s *server) accept() {
	for {
		fd, _, err := unix.Accept4(s.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN, or a failed accept: the next readiness retries
		}
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		if err := s.poll(unix.EPOLL_CTL_ADD, fd, unix.EPOLLIN); err != nil {
			unix.Close(fd)
			continue
		}
		s.conns[fd] = &conn{fd: fd}
	}
}

// read reads c once: level-triggered, what is left makes the next
// iteration's readiness.
func (s *server) read(c *conn) {
	c.in = slices.Grow(c.in, 16<<10)
	n, err := unix.Read(c.fd, c.in[len(c.in):cap(c.in)])
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if n <= 0 {
		s.drop(c)
		return
	}
	c.in = c.in[:len(c.in)+n]
	s.queue(c)
}

func (s *server) queue(c *conn) {
	if !c.queued && !c.busy && len(c.in) > 0 {
		c.queued = true
		s.queued = append(s.queued, c)
	}
}

// drop forgets a connection whose peer is gone; a batch that holds it
// closes it when it finishes (takeFinished).
func (s *server) drop(c *conn) {
	c.gone = true
	s.poll(unix.EPOLL_CTL_DEL, c.fd, 0)
	if !c.busy {
		delete(s.conns, c.fd)
		unix.Close(c.fd)
	}
}

// flush writes what it can of c's replies and waits for room for the rest;
// once all is written, c's buffered input is parsed.
func (s *server) flush(c *conn) {
	if !write(c) {
		s.drop(c)
		return
	}
	if pending := len(c.out) > 0; pending != c.polling {
		c.polling = pending
		events := uint32(unix.EPOLLIN)
		if pending {
			events |= unix.EPOLLOUT
		}
		s.poll(unix.EPOLL_CTL_MOD, c.fd, events)
	}
	if len(c.out) == 0 {
		s.queue(c)
	}
}

// write writes c.out once, keeping what the socket did not take; false if
// the socket failed.
func write(c *conn) bool {
	n, err := unix.Write(c.fd, c.out)
	if err != nil && err != unix.EAGAIN && err != unix.EINTR {
		c.out = c.out[:0]
		return false
	}
	c.out = c.out[:copy(c.out, c.out[max(n, 0):])]
	return true
}

// takeFinished hands the connections of finished batches back to the
// loop; false once stop was asked.
func (s *server) takeFinished() bool {
	var buf [8]byte
	unix.Read(s.wakefd, buf[:])
	s.mu.Lock()
	done, stopped := s.finished, s.stopped
	s.finished = nil
	s.mu.Unlock()
	for _, c := range done {
		c.busy = false
		switch {
		case c.gone:
			delete(s.conns, c.fd)
			unix.Close(c.fd)
		case len(c.out) > 0:
			s.flush(c) // arms EPOLLOUT
		default:
			s.queue(c)
		}
	}
	return !stopped
}

// parse runs c's buffered commands: those answered on the spot, then one
// run of SETs into sets or of GETs into gets; a command of another kind
// after the run waits until the run's replies are written.
func (s *server) parse(c *conn, sets, gets *batch) {
	if c.busy || c.gone || len(c.out) > 0 {
		return
	}
	leader := s.rep.Node().IsLeader()
	stamp := time.Now().UnixMilli()
	var run *batch
	rest := c.in
	for {
		complete, args, _, left, err := redcon.ReadNextCommand(rest, s.args)
		if err != nil {
			c.out = redcon.AppendError(c.out, "ERR Protocol error: "+err.Error())
			write(c)
			s.drop(c)
			return
		}
		if !complete {
			break
		}
		s.args = args
		if len(args) == 0 {
			rest = left
			continue
		}
		var b *batch
		switch {
		case !leader:
		case bytes.EqualFold(args[0], []byte("set")) && len(args) >= 3:
			b = sets
		case bytes.EqualFold(args[0], []byte("get")) && len(args) == 2:
			b = gets
		}
		if run != nil && b != run {
			break
		}
		rest = left
		switch b {
		case sets:
			sets.add(c)
			sets.datas = append(sets.datas, replica.EncodeEntryDB(nil, replica.KindCommand, 0, stamp, args))
		case gets:
			gets.add(c)
			gets.keys = append(gets.keys, bytes.Clone(args[1]))
		default:
			c.out = s.answer(c.out, args)
		}
		run = b
	}
	c.in = c.in[:copy(c.in, rest)]
	if run != nil {
		c.busy = true
	} else if len(c.out) > 0 {
		s.flush(c)
	}
}

// answer appends the reply to a command served on the spot.
func (s *server) answer(out []byte, args [][]byte) []byte {
	name := strings.ToLower(string(args[0]))
	switch {
	case name == "set" && len(args) < 3 || name == "get" && len(args) != 2:
		return redcon.AppendError(out, "ERR wrong number of arguments for '"+name+"' command")
	case name == "set" || name == "get":
		return s.moved(out, args[1])
	case name == "ping" && len(args) == 2:
		return redcon.AppendBulk(out, args[1])
	case name == "ping":
		return redcon.AppendString(out, "PONG")
	case name == "client":
		return redcon.AppendOK(out)
	case name == "config" || name == "command":
		return redcon.AppendArray(out, 0)
	case name == "info":
		return redcon.AppendBulkString(out, s.info())
	}
	return redcon.AppendError(out, "ERR unknown command '"+name+"'")
}

// info is INFO's Raft section, the lines bench scripts read.
func (s *server) info() string {
	node := s.rep.Node()
	role := "follower"
	if node.IsLeader() {
		role = "leader"
	}
	st := node.Stats()
	return fmt.Sprintf("# Raft\r\nraft_role:%s\r\nraft_leader_id:%d\r\nraft_log_writes:%d\r\nraft_log_entries_written:%d\r\n",
		role, node.Leader(), st.LogWrites, st.LogEntries)
}

// moved redirects a command on key to the leader, as rkv does.
func (s *server) moved(out, key []byte) []byte {
	m, ok := s.rep.Members().Get(s.rep.Node().Leader())
	if !ok {
		return redcon.AppendError(out, "CLUSTERDOWN No leader elected yet, try again later")
	}
	return redcon.AppendError(out, fmt.Sprintf("MOVED %d %s", store.KeySlot(key), m.ClientAddr))
}

// start runs a batch on a goroutine of its own.
func (s *server) start(b *batch, serve func(*batch)) {
	s.batches.Add(1)
	go func() {
		defer s.batches.Done()
		serve(b)
		s.finish(b)
	}()
}

// propose proposes a batch of SETs as one ProposeMany.
func (s *server) propose(b *batch) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	for i, r := range s.rep.Node().ProposeMany(ctx, b.datas) {
		c := b.owner[i]
		if r.Err != nil {
			c.out = appendErr(c.out, r.Err)
		} else if reply, ok := r.Val.([]byte); ok {
			c.out = append(c.out, reply...)
		} else {
			c.out = redcon.AppendError(c.out, "ERR internal error: no reply")
		}
	}
}

// serveReads serves a batch of GETs after one ReadIndex round.
func (s *server) serveReads(b *batch) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	err := s.rep.Node().ReadIndex(ctx)
	now := time.Now().UnixMilli()
	args := [][]byte{[]byte("get"), nil}
	for i, key := range b.keys {
		c := b.owner[i]
		if err != nil {
			c.out = appendErr(c.out, err)
			continue
		}
		args[1] = key
		c.out = s.rep.Store().ReadDB(0, now, args, c.out)
	}
}

func appendErr(out []byte, err error) []byte {
	var nle *consensus.NotLeaderError
	if errors.As(err, &nle) || errors.Is(err, consensus.ErrProposalDropped) {
		return redcon.AppendError(out, "TRYAGAIN leadership changing, please retry")
	}
	return redcon.AppendError(out, "ERR "+err.Error())
}

// finish writes each connection's replies with one write and hands the
// connections back to the loop, waking it once.
func (s *server) finish(b *batch) {
	for _, c := range b.conns {
		write(c) // a failed socket is the loop's to find, at its next read
	}
	s.mu.Lock()
	idle := len(s.finished) == 0
	s.finished = append(s.finished, b.conns...)
	s.mu.Unlock()
	if idle {
		s.wake()
	}
}
