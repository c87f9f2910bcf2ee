package script

import "context"

// budgetContext ends a script after a number of Lua instructions instead
// of after some wall time: gopher-lua asks its context's Done once per
// instruction it executes, so counting those calls is a bound every
// replica reaches at the same instruction of the same script.
type budgetContext struct {
	context.Context
	left int64
}

// errBudget is the reply of a script that ran out of instructions.
const errBudget = "ERR Script exceeded the instruction budget of a replicated script"

var spent = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (b *budgetContext) Done() <-chan struct{} {
	if b.left--; b.left < 0 {
		return spent
	}
	return b.Context.Done()
}

func (b *budgetContext) Err() error {
	if b.left < 0 {
		return context.DeadlineExceeded
	}
	return b.Context.Err()
}

// exhausted reports whether the budget ran out.
func (b *budgetContext) exhausted() bool { return b.left < 0 }
