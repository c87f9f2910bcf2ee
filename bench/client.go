package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// client is a minimal RESP2 client. The harness needs only a handful of
// commands and pipelined SETs for loading; a client of its own keeps the
// loader's cost visible and small and avoids any cluster-aware behaviour
// (redirects must show up as errors, not be followed silently).
type client struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

// serverError is an error reply (-ERR ..., -MOVED ..., -LOADING ...).
type serverError string

func (e serverError) Error() string { return string(e) }

func dial(ctx context.Context, addr string) (*client, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &client{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

func (c *client) Close() error { return c.c.Close() }

// write buffers one command; flush sends everything buffered.
func (c *client) write(args ...string) {
	fmt.Fprintf(c.w, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(c.w, "$%d\r\n", len(a))
		c.w.WriteString(a)
		c.w.WriteString("\r\n")
	}
}

// do sends one command and reads its reply. An error reply is returned as
// a serverError. The deadline bounds the whole round trip so a stuck server
// cannot hang the harness.
func (c *client) do(timeout time.Duration, args ...string) (any, error) {
	c.c.SetDeadline(time.Now().Add(timeout))
	c.write(args...)
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	return c.read()
}

// read returns string, int64, nil, []any or a serverError.
func (c *client) read() (any, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("bench: malformed reply line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, serverError(body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		out := make([]any, n)
		for i := range out {
			v, err := c.read()
			var se serverError
			if err != nil && !errors.As(err, &se) {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("bench: unknown reply type %q", line)
}

// command dials addr, sends one command and closes: the harness polls
// servers that may be down or restarting, so it holds no connection open.
func command(ctx context.Context, addr string, args ...string) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.do(2*time.Second, args...)
}

// info returns the fields of INFO <section> as a map.
func info(ctx context.Context, addr, section string) (map[string]string, error) {
	v, err := command(ctx, addr, "INFO", section)
	if err != nil {
		return nil, err
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("bench: INFO %s: unexpected reply %T", section, v)
	}
	m := make(map[string]string)
	for _, line := range strings.Split(s, "\n") {
		k, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok {
			m[k] = val
		}
	}
	return m, nil
}
