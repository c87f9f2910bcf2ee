// Command rkv is a Redis-protocol cache server replicated by Raft.
//
//	rkv                                   one node on 127.0.0.1:6379, data in ./rkv-data
//	rkv --id 1 --addr 127.0.0.1:7001 --dir d1 --cluster 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003
//	rkv --id 4 --addr 127.0.0.1:7004 --dir d4 --join 127.0.0.1:7001
//	rkv local --nodes 3                   a local 3-node cluster for trying it out
//	rkv backup --from 127.0.0.1:7001 --out b.rkv
//	rkv restore --file b.rkv --id 1 --addr 127.0.0.1:7001 --dir d1 --cluster ...
//	rkv recover --dir d1 --force-new-cluster
//	                                      make a stopped node the only member of a new cluster
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"unicode"

	"github.com/rkv/rkv/internal/buildinfo"
	"github.com/rkv/rkv/resp"
)

// usageError is a bad flag or configuration: one message, exit status 2.
type usageError struct{ msg string }

// Error is the message on one line: control characters in what it quotes
// of the command line (the flag package quotes flag names as typed) are
// escaped.
func (e *usageError) Error() string {
	if !strings.ContainsFunc(e.msg, unicode.IsControl) {
		return e.msg
	}
	var b strings.Builder
	for _, r := range e.msg {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func main() {
	var err error
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version" || os.Args[1] == "version") {
		fmt.Printf("rkv %s (Redis %s compatible, %s)\n", buildinfo.Version(), resp.RedisVersion, runtime.Version())
		return
	}
	switch {
	case len(os.Args) > 1 && os.Args[1] == "local":
		err = runLocal(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "backup":
		err = runBackup(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "restore":
		err = runRestore(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "recover":
		err = runRecover(os.Args[2:])
	default:
		if os.Getenv("GOGC") == "" {
			go tuneGC()
		}
		err = runServer(os.Args[1:])
	}
	if err == nil {
		return
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "rkv: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}
