package resp

import (
	"testing"

	"github.com/rkv/rkv/command"
	"github.com/rkv/rkv/store"
)

// TestEveryCommandHasAnExecutor: a command in the table that nothing
// executes would be listed by COMMAND and yet answer "unknown command".
func TestEveryCommandHasAnExecutor(t *testing.T) {
	for _, sp := range command.All() {
		_, inStore := store.Lookup([]byte(sp.Name))
		_, onServer := serverCommands[sp.Name]
		if inStore == onServer {
			t.Errorf("%s: executed by the store %v, by the front end %v; want exactly one", sp.Name, inStore, onServer)
		}
	}
}
