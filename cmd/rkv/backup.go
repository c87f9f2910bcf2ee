package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rkv/rkv/consensus/transport"
	"github.com/rkv/rkv/internal/atomicfile"
	"github.com/rkv/rkv/replica"
)

// backupIdle bounds how long rkv backup waits for the next bytes from the
// node: a node that stops answering fails the backup rather than hang it.
// It is not a bound on the whole transfer, which may be long.
const backupIdle = time.Minute

// runBackup takes a backup of a running cluster: the leader's snapshot of
// everything committed before it was asked (CLUSTER RKV-BACKUP), written
// to --out atomically and checked.
func runBackup(args []string) error {
	fs := flag.NewFlagSet("rkv backup", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", "127.0.0.1:6379", "client address (`host:port`) of any member of the cluster; a follower's answer leads to the leader")
	out := fs.String("out", "", "the backup file to write (replaced atomically)")
	user := fs.String("user", "", "user to authenticate as (\"\": the default user)")
	pass := fs.String("pass", "", "password to authenticate with (default: $RKV_REQUIREPASS)")
	passFile := fs.String("requirepass-file", "", "file whose first line is the password, so that it is not on the command line")
	useTLS := fs.Bool("tls", false, "speak TLS to the node (implied by the other --tls flags)")
	cert := fs.String("tls-cert-file", "", "client certificate (PEM), for a node that requires one")
	key := fs.String("tls-key-file", "", "private key (PEM) of --tls-cert-file")
	ca := fs.String("tls-ca-cert-file", "", "CA certificates (PEM) the node's certificate must chain to (host names are not checked, as between nodes); default: the system's, with the host name checked")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fmt.Println("usage: rkv backup --from host:port --out FILE [--user U] [--pass P | --requirepass-file F] [--tls ...]")
			fs.PrintDefaults()
			return err
		}
		return &usageError{err.Error() + " (run rkv backup -h for the flags)"}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if *out == "" {
		return &usageError{"--out is required: the file to write the backup to"}
	}
	if _, _, err := net.SplitHostPort(*from); err != nil {
		return &usageError{fmt.Sprintf("--from %q: %v", *from, err)}
	}
	password := *pass
	if *passFile != "" {
		if password != "" {
			return &usageError{"--pass and --requirepass-file: give one"}
		}
		var err error
		if password, err = readFirstLine("--requirepass-file", *passFile); err != nil {
			return err
		}
	} else if password == "" {
		password = os.Getenv("RKV_REQUIREPASS")
	}
	tlsConf, err := backupTLS(*useTLS, *cert, *key, *ca)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	d := &backupDialer{user: *user, password: password, tls: tlsConf}
	info, size, from2, err := d.backup(ctx, *from, *out)
	if err != nil {
		return err
	}
	fmt.Printf("backup of %s at index %d, term %d: %d keys, %d bytes, in %s\n", from2, info.Index, info.Term, info.Keys, size, *out)
	return nil
}

// backupTLS builds the client TLS configuration of rkv backup, nil for
// plain TCP.
func backupTLS(on bool, cert, key, ca string) (*tls.Config, error) {
	if !on && cert == "" && key == "" && ca == "" {
		return nil, nil
	}
	if (cert == "") != (key == "") {
		return nil, &usageError{"--tls-cert-file and --tls-key-file go together"}
	}
	var certs []tls.Certificate
	if cert != "" {
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, &usageError{fmt.Sprintf("--tls-cert-file/--tls-key-file: %v", err)}
		}
		certs = append(certs, c)
	}
	if ca == "" {
		return &tls.Config{Certificates: certs, MinVersion: tls.VersionTLS12}, nil
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, &usageError{fmt.Sprintf("--tls-ca-cert-file: %v", err)}
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, &usageError{fmt.Sprintf("--tls-ca-cert-file %s: no PEM certificate in it", ca)}
	}
	return transport.MutualTLS(certs, roots), nil
}

// backupDialer asks nodes for a backup.
type backupDialer struct {
	user, password string
	tls            *tls.Config
}

// errRetry marks an answer that a later attempt may not get: no leader
// known yet, or leadership moving.
var errRetry = errors.New("retry")

// backup asks addr for a backup, following MOVED to the leader and
// retrying while the cluster has none, and writes it to out. It returns
// what the file holds, its size and the node that answered.
func (d *backupDialer) backup(ctx context.Context, addr, out string) (replica.BackupInfo, int64, string, error) {
	deadline := time.Now().Add(60 * time.Second)
	for hops := 0; ; {
		info, size, moved, err := d.fetch(ctx, addr, out)
		switch {
		case err == nil && moved == "":
			return info, size, addr, nil
		case err == nil:
			if hops++; hops > 5 {
				return replica.BackupInfo{}, 0, "", fmt.Errorf("backup: redirected more than 5 times (last to %s)", moved)
			}
			addr = moved
			continue
		case !errors.Is(err, errRetry) || time.Now().After(deadline):
			return replica.BackupInfo{}, 0, "", err
		}
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			return replica.BackupInfo{}, 0, "", ctx.Err()
		}
	}
}

// fetch asks one node. It returns what it wrote to out, checked, and its
// size, or the address a MOVED answer names.
func (d *backupDialer) fetch(ctx context.Context, addr, out string) (info replica.BackupInfo, size int64, moved string, err error) {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	var conn net.Conn
	if d.tls != nil {
		conf := d.tls.Clone()
		conf.ServerName, _, _ = net.SplitHostPort(addr)
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: conf}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return info, 0, "", fmt.Errorf("backup: %w", err)
	}
	defer conn.Close()
	// Closing the connection ends a transfer under way on Ctrl-C.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	idle := &idleConn{Conn: conn}
	rd := bufio.NewReaderSize(idle, 1<<16)
	if d.password != "" {
		auth := []string{"AUTH", d.password}
		if d.user != "" {
			auth = []string{"AUTH", d.user, d.password}
		}
		if _, err := conn.Write(respCommand(auth...)); err != nil {
			return info, 0, "", fmt.Errorf("backup: %s: %w", addr, err)
		}
		line, err := readLine(rd)
		if err != nil {
			return info, 0, "", fmt.Errorf("backup: %s: %w", addr, err)
		}
		if line != "+OK" {
			return info, 0, "", fmt.Errorf("backup: %s refused the credentials: %s", addr, strings.TrimPrefix(line, "-"))
		}
	}
	if _, err := conn.Write(respCommand("CLUSTER", "RKV-BACKUP")); err != nil {
		return info, 0, "", fmt.Errorf("backup: %s: %w", addr, err)
	}
	line, err := readLine(rd)
	if err != nil {
		return info, 0, "", fmt.Errorf("backup: %s: %w", addr, err)
	}
	if msg, ok := strings.CutPrefix(line, "-"); ok {
		f := strings.Fields(msg)
		switch {
		case len(f) == 3 && f[0] == "MOVED":
			return info, 0, f[2], nil
		case len(f) > 0 && (f[0] == "CLUSTERDOWN" || f[0] == "TRYAGAIN" || f[0] == "TIMEOUT"):
			return info, 0, "", fmt.Errorf("backup: %s: %s: %w", addr, msg, errRetry)
		}
		return info, 0, "", fmt.Errorf("backup: %s: %s", addr, msg)
	}
	size, err = strconv.ParseInt(strings.TrimPrefix(line, "$"), 10, 64)
	if !strings.HasPrefix(line, "$") || err != nil || size < 0 {
		return info, 0, "", fmt.Errorf("backup: %s answered %q, not a backup", addr, line)
	}
	err = atomicfile.Write(out, 0o600, func(f *os.File) error {
		if _, err := io.CopyN(f, rd, size); err != nil {
			return fmt.Errorf("backup: reading from %s: %w", addr, err)
		}
		if end, err := readLine(rd); err != nil || end != "" {
			return fmt.Errorf("backup: %s: the backup does not end where its length says", addr)
		}
		// Read back whole before it replaces anything.
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if info, _, err = replica.ReadBackup(bufio.NewReaderSize(f, 1<<16)); err != nil {
			return fmt.Errorf("backup: from %s: %w", addr, err)
		}
		return nil
	})
	return info, size, "", err
}

// idleConn fails a read that waits longer than backupIdle.
type idleConn struct{ net.Conn }

func (c *idleConn) Read(p []byte) (int, error) {
	c.SetReadDeadline(time.Now().Add(backupIdle))
	return c.Conn.Read(p)
}

// respCommand encodes a command as a RESP array of bulk strings.
func respCommand(args ...string) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

// readLine reads a RESP line without its CRLF.
func readLine(rd *bufio.Reader) (string, error) {
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") {
		return "", errors.New("malformed reply")
	}
	return strings.TrimSuffix(line, "\r\n"), nil
}
