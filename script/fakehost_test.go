package script

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// fakeHost is a tiny keyspace answering a handful of commands the way
// Redis does, enough to drive scripts in tests.
type fakeHost struct {
	strs   map[string]string
	hashes map[string]map[string]string
	hkeys  map[string][]string // field order, as a small Redis hash keeps it
	lists  map[string][]string
	calls  [][]string
}

func newFakeHost() *fakeHost {
	return &fakeHost{strs: map[string]string{}, hashes: map[string]map[string]string{}, hkeys: map[string][]string{}, lists: map[string][]string{}}
}

func bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

func (h *fakeHost) typeOf(k string) string {
	if _, ok := h.strs[k]; ok {
		return "string"
	}
	if _, ok := h.hashes[k]; ok {
		return "hash"
	}
	if _, ok := h.lists[k]; ok {
		return "list"
	}
	return "none"
}

const wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"

func (h *fakeHost) Call(args [][]byte, resp int) []byte {
	a := make([]string, len(args))
	for i, b := range args {
		a[i] = string(b)
	}
	h.calls = append(h.calls, a)
	null := "$-1\r\n"
	if resp == 3 {
		null = "_\r\n"
	}
	switch strings.ToLower(a[0]) {
	case "set":
		if t := h.typeOf(a[1]); t != "none" && t != "string" {
			delete(h.hashes, a[1])
			delete(h.lists, a[1])
		}
		h.strs[a[1]] = a[2]
		return []byte("+OK\r\n")
	case "get":
		if t := h.typeOf(a[1]); t != "none" && t != "string" {
			return []byte(wrongType)
		}
		v, ok := h.strs[a[1]]
		if !ok {
			return []byte(null)
		}
		return []byte(bulk(v))
	case "del":
		n := 0
		for _, k := range a[1:] {
			if h.typeOf(k) != "none" {
				n++
			}
			delete(h.strs, k)
			delete(h.hashes, k)
			delete(h.lists, k)
		}
		return []byte(fmt.Sprintf(":%d\r\n", n))
	case "incr":
		if t := h.typeOf(a[1]); t != "none" && t != "string" {
			return []byte(wrongType)
		}
		n, err := strconv.ParseInt(h.strs[a[1]], 10, 64)
		if _, ok := h.strs[a[1]]; ok && err != nil {
			return []byte("-ERR value is not an integer or out of range\r\n")
		}
		n++
		h.strs[a[1]] = strconv.FormatInt(n, 10)
		return []byte(fmt.Sprintf(":%d\r\n", n))
	case "hset":
		if t := h.typeOf(a[1]); t != "none" && t != "hash" {
			return []byte(wrongType)
		}
		if len(a)%2 != 0 {
			return []byte("-ERR wrong number of arguments for 'hset' command\r\n")
		}
		m := h.hashes[a[1]]
		if m == nil {
			m = map[string]string{}
			h.hashes[a[1]] = m
		}
		n := 0
		for i := 2; i < len(a); i += 2 {
			if _, ok := m[a[i]]; !ok {
				n++
				h.hkeys[a[1]] = append(h.hkeys[a[1]], a[i])
			}
			m[a[i]] = a[i+1]
		}
		return []byte(fmt.Sprintf(":%d\r\n", n))
	case "hgetall":
		if t := h.typeOf(a[1]); t != "none" && t != "hash" {
			return []byte(wrongType)
		}
		m := h.hashes[a[1]]
		var b strings.Builder
		if resp == 3 {
			fmt.Fprintf(&b, "%%%d\r\n", len(m))
		} else {
			fmt.Fprintf(&b, "*%d\r\n", 2*len(m))
		}
		for _, k := range h.hkeys[a[1]] {
			b.WriteString(bulk(k) + bulk(m[k]))
		}
		return []byte(b.String())
	case "lpush":
		if t := h.typeOf(a[1]); t != "none" && t != "list" {
			return []byte(wrongType)
		}
		for _, v := range a[2:] {
			h.lists[a[1]] = slices.Insert(h.lists[a[1]], 0, v)
		}
		return []byte(fmt.Sprintf(":%d\r\n", len(h.lists[a[1]])))
	case "lrange":
		if t := h.typeOf(a[1]); t != "none" && t != "list" {
			return []byte(wrongType)
		}
		l := h.lists[a[1]]
		start, _ := strconv.Atoi(a[2])
		stop, _ := strconv.Atoi(a[3])
		if start < 0 {
			start = max(len(l)+start, 0)
		}
		if stop < 0 {
			stop = len(l) + stop
		}
		stop = min(stop, len(l)-1)
		var b strings.Builder
		if start > stop {
			return []byte("*0\r\n")
		}
		fmt.Fprintf(&b, "*%d\r\n", stop-start+1)
		for _, v := range l[start : stop+1] {
			b.WriteString(bulk(v))
		}
		return []byte(b.String())
	case "ping":
		return []byte("+PONG\r\n")
	case "echo":
		return []byte(bulk(a[1]))
	}
	return []byte("-ERR rkv fake host: unsupported command '" + a[0] + "'\r\n")
}
