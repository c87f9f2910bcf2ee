// Package metrics serves a node's Prometheus metrics, and its liveness and
// readiness checks, on the --metrics-addr port.
//
// Most metrics are read at scrape time from what the node keeps anyway
// (INFO's sources: the command counters of resp, the store's Stats, the
// Raft node's Status and Stats), so serving them costs the request path
// nothing more. Only what nothing keeps is observed as it happens, into
// histograms whose observation is a few atomic adds: each WAL fsync, the
// number of entries of each log write, each snapshot's duration.
//
// Dependencies: cmd/rkv -> metrics -> {resp, replica, consensus}; wal and
// consensus know nothing of Prometheus and take plain func hooks.
// README.md's Monitoring section lists every metric.
package metrics
