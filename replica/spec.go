package replica

import (
	"fmt"
	"hash/fnv"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/rkv/rkv/consensus"
)

// ParseCluster reads "1=host:port,2=host:port@bus,...".
func ParseCluster(spec string) ([]Member, error) {
	var out []Member
	for _, part := range strings.Split(spec, ",") {
		idStr, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%q: want id=host:port", part)
		}
		id, err := strconv.ParseUint(idStr, 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Errorf("%q: id must be a positive integer", part)
		}
		m, err := ParseMember(addr)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", part, err)
		}
		if slices.ContainsFunc(out, func(m Member) bool { return m.ID == consensus.NodeID(id) }) {
			return nil, fmt.Errorf("node id %d is listed twice", id)
		}
		m.ID = consensus.NodeID(id)
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return int(a.ID) - int(b.ID) })
	return out, nil
}

// ParseMember reads "host:port[@busport]" or "host:port@host:port": a
// member's client address and bus address, the bus by default on the
// client port + 10000.
func ParseMember(addr string) (Member, error) {
	client, bus, hasBus := strings.Cut(addr, "@")
	if _, _, err := net.SplitHostPort(client); err != nil {
		return Member{}, err
	}
	if hasBus {
		if _, err := strconv.ParseUint(bus, 10, 16); err == nil {
			host, _, _ := net.SplitHostPort(client)
			bus = net.JoinHostPort(host, bus)
		} else if _, _, err := net.SplitHostPort(bus); err != nil {
			return Member{}, fmt.Errorf("bus %v", err)
		}
	} else {
		var err error
		if bus, err = DefaultBus(client); err != nil {
			return Member{}, err
		}
	}
	return Member{ClientAddr: client, BusAddr: bus}, nil
}

// DefaultBus is Redis Cluster's convention: the client port + 10000.
func DefaultBus(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p+10000 > 65535 {
		return "", fmt.Errorf("port %q leaves no room for the bus port (+10000); give host:port@busport", port)
	}
	return net.JoinHostPort(host, strconv.Itoa(p+10000)), nil
}

// ClusterID names a cluster from its founding members' ids and client
// addresses, so that peers of another cluster are refused at the transport
// handshake. Bus addresses are left out: each node may reach a peer's bus
// through its own route (a proxy, a NAT), so they may differ between the
// founders' --cluster lists.
func ClusterID(members []Member) uint64 {
	h := fnv.New64a()
	for _, m := range members {
		fmt.Fprintf(h, "%d=%s,", m.ID, m.ClientAddr)
	}
	return h.Sum64()
}
