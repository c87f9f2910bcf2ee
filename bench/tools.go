package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// benchResult is one row of redis-benchmark --csv.
type benchResult struct{ rps, p50, p99 float64 }

// redisBenchmark runs redis-benchmark against addr with --csv and returns
// its rows by test name (SET, GET). Error replies fail the run: rkv answers
// -MOVED or -CLUSTERDOWN when the target is not the leader, and counting
// those as replies would inflate its figures.
func redisBenchmark(ctx context.Context, addr string, args ...string) (map[string]benchResult, error) {
	host, port, _ := strings.Cut(addr, ":")
	args = append([]string{"-h", host, "-p", port, "--csv"}, args...)
	cmd := exec.CommandContext(ctx, "redis-benchmark", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// redis-benchmark -P exits on some error replies, such as the
		// peer's when its leadership moved mid-run.
		if i := strings.Index(stderr.String(), "Error from server"); i >= 0 {
			out := stderr.String()
			return nil, &replyErrors{sample: strings.TrimSpace(out[i:min(len(out), i+120)])}
		}
		return nil, fmt.Errorf("redis-benchmark %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	if out := stdout.String() + stderr.String(); strings.Contains(out, "Error") {
		i := strings.Index(out, "Error")
		return nil, &replyErrors{sample: strings.TrimSpace(out[i:min(len(out), i+120)])}
	}
	return parseBenchCSV(stdout.Bytes())
}

// replyErrors is a redis-benchmark run that saw error replies.
type replyErrors struct{ sample string }

func (e *replyErrors) Error() string { return "redis-benchmark saw error replies: " + e.sample }

// parseBenchCSV reads redis-benchmark 7's --csv output: a header row naming
// the columns, then one row per test.
func parseBenchCSV(b []byte) (map[string]benchResult, error) {
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark csv: %w", err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("redis-benchmark csv: no rows in %q", b)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, need := range []string{"test", "rps", "p50_latency_ms", "p99_latency_ms"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("redis-benchmark csv: no %q column in %q", need, rows[0])
		}
	}
	out := map[string]benchResult{}
	for _, r := range rows[1:] {
		var br benchResult
		for _, f := range []struct {
			name string
			dst  *float64
		}{{"rps", &br.rps}, {"p50_latency_ms", &br.p50}, {"p99_latency_ms", &br.p99}} {
			if col[f.name] >= len(r) {
				return nil, fmt.Errorf("redis-benchmark csv: short row %q", r)
			}
			v, err := strconv.ParseFloat(r[col[f.name]], 64)
			if err != nil {
				return nil, fmt.Errorf("redis-benchmark csv: %s: %w", f.name, err)
			}
			*f.dst = v
		}
		out[r[col["test"]]] = br
	}
	return out, nil
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// fsType names the filesystem under dir: on tmpfs an fsync costs nothing
// and the durable figures would not mean what they say.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	names := map[int64]string{
		0xEF53: "ext4", 0x58465342: "xfs", 0x9123683E: "btrfs", 0x01021994: "tmpfs",
		0x794c7630: "overlayfs", 0x2FC12FC1: "zfs", 0x6969: "nfs", 0x65735546: "fuse",
	}
	if n, ok := names[int64(st.Type)]; ok {
		return n
	}
	return fmt.Sprintf("0x%x", st.Type)
}

// fsyncLatency times n small appends each followed by fsync in dir and
// returns the median: the floor under every durable acknowledgement.
func fsyncLatency(dir string, n int) (time.Duration, error) {
	f, err := os.Create(filepath.Join(dir, "fsync-probe"))
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := bytes.Repeat([]byte{'x'}, 64)
	ds := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}
