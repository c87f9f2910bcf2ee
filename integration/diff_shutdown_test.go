package integration

// The shutdown family: SHUTDOWN's error replies (a SHUTDOWN that goes
// ahead ends the server, so only the refused forms are sent).

func init() {
	diffFamilies = append(diffFamilies, &diffFamily{name: "shutdown", gen: (*diffGen).shutdownCmd})
}

func (g *diffGen) shutdownCmd() diffCmd {
	refused := [][]string{
		{"ABORT"}, {"FOO"}, {"NOSAVE", "SAVE"}, {"NOSAVE", "ABORT"}, {"ABORT", "NOW"}, {"SAVE", "NOW", "BAR"},
		{"ABORT", "ABORT", "FORCE"},
	}
	args := []string{g.word("SHUTDOWN")}
	for _, a := range g.pickArgs(refused) {
		args = append(args, g.word(a))
	}
	return diffCmd{args: args}
}

// pickArgs picks one argument list of s.
func (g *diffGen) pickArgs(s [][]string) []string { return s[g.rng.IntN(len(s))] }
