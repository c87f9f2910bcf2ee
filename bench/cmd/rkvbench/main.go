// Command rkvbench runs rkv's benchmark suite: rkv against redis-server on
// this machine, printed as one Markdown table and written to a file.
//
//	go run ./bench/cmd/rkvbench [-runs 3] [-quick] [-out bench/RESULTS.md] [-baseline REV]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rkv/rkv/bench"
)

func main() {
	runs := flag.Int("runs", 0, "repetitions per figure, the median is reported (default 3, or 1 with -quick)")
	quick := flag.Bool("quick", false, "a fast smoke run with small request counts and 100k keys")
	out := flag.String("out", "bench/RESULTS.md", "Markdown file to write the results to (\"\": none)")
	dir := flag.String("dir", "", "parent of the temporary data directory (default: the system temp dir); put it on the disk you want measured")
	keep := flag.Bool("keep", false, "keep the temporary directory (server logs and data) if the suite fails")
	baseline := flag.String("baseline", "", "a git revision of rkv to build too and measure beside the working tree in the throughput phase, as rkv-baseline and rkv-1-baseline")
	flag.Parse()

	cfg := bench.DefaultConfig(*quick)
	if *runs > 0 {
		cfg.Runs = *runs
	}
	cfg.BaseDir = *dir
	cfg.Keep = *keep
	cfg.Baseline = *baseline
	cfg.Log = os.Stderr
	// Ctrl-C cancels the context; Run then kills its servers and removes its
	// temporary directory before returning.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rkvbench: %v\n", err)
		os.Exit(1)
	}
	md := rep.Markdown()
	fmt.Print(md)
	if m := rep.Missing(); len(m) > 0 {
		fmt.Fprintf(os.Stderr, "rkvbench: figures not measured: %v\n", m)
	}
	if *out != "" {
		if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "rkvbench: %v\n", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "rkvbench: wrote %s\n", *out)
	}
}
