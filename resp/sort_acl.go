package resp

import (
	"bytes"
	"strconv"
	"strings"
)

// sortRefusal is the error SORT and SORT_RO give a user without access to
// every key when BY names keys by a pattern or GET is used (their keys
// cannot be checked in advance), found where sort.c's parser finds it: an
// option it rejects first is answered by the store instead.
func sortRefusal(name string, args [][]byte) string {
	if name != "sort" && name != "sort_ro" {
		return ""
	}
	for j := 2; j < len(args); j++ {
		left := len(args) - j - 1
		switch a := strings.ToLower(string(args[j])); {
		case a == "asc" || a == "desc" || a == "alpha":
		case a == "limit" && left >= 2:
			for _, n := range args[j+1 : j+3] {
				if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
					return ""
				}
			}
			j += 2
		case a == "store" && name == "sort" && left >= 1:
			j++
		case a == "by" && left >= 1:
			if bytes.IndexByte(args[j+1], '*') >= 0 {
				return "ERR BY option of SORT denied due to insufficient ACL permissions."
			}
			j++
		case a == "get" && left >= 1:
			return "ERR GET option of SORT denied due to insufficient ACL permissions."
		default:
			return ""
		}
	}
	return ""
}
