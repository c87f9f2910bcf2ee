package resp

// CONFIG of the replicated encoding settings and of lazyfree-lazy-*.

import (
	"fmt"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"github.com/rkv/rkv/replica"
	"github.com/rkv/rkv/store"
)

// lazyfreeSettings are Redis's lazyfree-lazy-* switches, by their
// store.LazyFree bit (1 << index): which deletions release their values
// in the background (store/lazyfree.go).
var lazyfreeSettings = []string{"lazyfree-lazy-eviction", "lazyfree-lazy-expire",
	"lazyfree-lazy-server-del", "lazyfree-lazy-user-del", "lazyfree-lazy-user-flush"}

// setLazyfree makes a setter for the lazyfree-lazy-* setting of bit.
func setLazyfree(bit store.LazyFree) func(s *Server, v string) string {
	return func(s *Server, v string) string {
		switch strings.ToLower(v) {
		case "yes":
			s.home.Store().SetLazyFree(bit, true)
		case "no":
			s.home.Store().SetLazyFree(bit, false)
		default:
			return "argument must be 'yes' or 'no'"
		}
		return ""
	}
}

func init() {
	for i, n := range lazyfreeSettings {
		runtimeSettings[n] = setLazyfree(store.LazyFree(1) << i)
	}
}

// addReplicatedSettings adds to settings the encoding settings, which the
// store holds, and the lazyfree switches.
func (s *Server) addReplicatedSettings(settings map[string]string) {
	for k, v := range s.home.Store().EncodingSettings() {
		settings[k] = v
	}
	bits := s.home.Store().LazyFree()
	for i, n := range lazyfreeSettings {
		settings[n] = yesNo(bits&(1<<i) != 0)
	}
}

// checkSetNames checks the names of CONFIG SET's pairs in Redis's order:
// each must be a setting and appear once (under one spelling).
func checkSetNames(settings map[string]string, pairs [][]byte) string {
	seen := map[string]bool{}
	for i := 0; i+1 < len(pairs); i += 2 {
		k := strings.ToLower(string(pairs[i]))
		if _, ok := settings[k]; !ok {
			return fmt.Sprintf("ERR Unknown option or number of arguments for CONFIG SET - '%s'", k)
		}
		if seen[k] {
			return fmt.Sprintf("ERR CONFIG SET failed (possibly related to argument '%s') - duplicate parameter", pairs[i])
		}
		seen[k] = true
	}
	return ""
}

// encodingEntry checks the encoding settings among CONFIG SET's pairs and
// returns them as a replica.KindConfig entry's arguments (none when there
// are none), or Redis's error for the first bad value.
func encodingEntry(pairs [][]byte) (entry [][]byte, errMsg string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		if !store.IsEncodingSetting(string(pairs[i])) {
			continue
		}
		name, v, msg := store.CheckEncodingSetting(string(pairs[i]), string(pairs[i+1]))
		if msg != "" {
			// Redis lowercases the names before it looks them up.
			return nil, fmt.Sprintf("ERR CONFIG SET failed (possibly related to argument '%s') - %s",
				strings.ToLower(string(pairs[i])), msg)
		}
		entry = append(entry, []byte(name), []byte(v))
	}
	return entry, ""
}

// proposeEncodings changes the encoding settings through the log: every
// replica must convert values at the same thresholds.
func (s *Server) proposeEncodings(conn redcon.Conn, entry [][]byte) {
	s.propose(conn, s.home, routeOf("config"), nil, func() []byte {
		return replica.EncodeEntry(nil, replica.KindConfig, time.Now().UnixMilli(), entry)
	})
}
