package integration

import (
	"fmt"
	"strconv"
	"testing"
)

// The databases family: SELECT, MOVE, SWAPDB, COPY ... DB, FLUSHDB and
// DBSIZE across databases 0 to diffDBs, SELECT inside MULTI (the
// connection keeps the database the transaction chose) and inside scripts
// (it does not), with their errors. The diff clients have one connection
// each, so a SELECT lasts for the commands of every family that follow
// it until the next SELECT; each seed starts in database 0, and the final
// state renders every database the family uses.

// diffDBs is the highest database the family selects.
const diffDBs = 3

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{name: "databases", gen: (*diffGen).databasesCmd})
}

// db is a database number: mostly one the family uses, now and then one
// out of range or not a number.
func (g *diffGen) db() string {
	if g.rng.IntN(8) == 0 {
		return g.pick([]string{"16", "-1", "abc", "", "4294967296", "1.5", " 1"})
	}
	return strconv.Itoa(g.rng.IntN(diffDBs + 1))
}

func (g *diffGen) databasesCmd() diffCmd {
	w := g.word
	exact := func(args ...string) diffCmd { return diffCmd{args: args} }
	switch r := g.rng.IntN(100); {
	case r < 20:
		return exact(w("SELECT"), g.db())
	case r < 35:
		return exact(w("MOVE"), g.key(), g.db())
	case r < 45:
		return exact(w("SWAPDB"), g.db(), g.db())
	case r < 60:
		args := []string{w("COPY"), g.key(), g.key(), w("DB"), g.db()}
		if g.rng.IntN(2) == 0 {
			args = append(args, w("REPLACE"))
		}
		return exact(args...)
	case r < 65:
		return exact(w("FLUSHDB"))
	case r < 72:
		return exact(w("DBSIZE"))
	case r < 80:
		// A script's SELECT lasts until the script ends.
		body := fmt.Sprintf("redis.call('select', %s) redis.call('set', KEYS[1], ARGV[1]) return redis.call('dbsize')",
			strconv.Quote(g.db()))
		return exact(w("EVAL"), body, "1", g.key(), g.val())
	case r < 85:
		return exact(w("SELECT"))
	case r < 88:
		return exact(w("MOVE"), g.key())
	case r < 90:
		return exact(w("SWAPDB"), g.db())
	}
	// A transaction that changes database midway: the commands after its
	// SELECT run there, and the connection stays there after EXEC.
	var steps []txStep
	add := func(args ...string) { steps = append(steps, txStep{c: diffCmd{args: args}}) }
	add(w("MULTI"))
	add(w("SET"), g.key(), g.val())
	add(w("SELECT"), g.db())
	add(w("SET"), g.key(), g.val())
	add(w("GET"), g.key())
	if g.rng.IntN(3) == 0 {
		add(w("SELECT"), g.db())
	}
	// Not DBSIZE, before which the test touches Redis's keys (diffReclaim),
	// which would queue a command on Redis alone.
	add(append([]string{w("EXISTS")}, diffKeys...)...)
	add(w("EXEC"))
	add(w("DBSIZE"))
	return g.txSequence(steps)
}

// diffDatabasesState renders databases 1 to diffDBs, selecting each on the
// target's connection; the seed ends there, and the next starts with
// SELECT 0.
func diffDatabasesState(t *testing.T, d diffTarget) string {
	t.Helper()
	var out string
	for db := 1; db <= diffDBs; db++ {
		if v, err := d.do(t, []string{"SELECT", strconv.Itoa(db)}); err != nil || v != "OK" {
			t.Fatalf("%s: SELECT %d: %v %v", d.name, db, v, err)
		}
		out += fmt.Sprintf("database %d:\n%s", db, diffKeysState(t, d))
	}
	return out
}
