package consensus

// readIndexStatus is one pending ReadIndex request: the commit index when it
// arrived and the voters that have since confirmed the leadership.
type readIndexStatus struct {
	req   Message
	index uint64
	acks  map[NodeID]bool
}

// readOnly tracks ReadIndex requests waiting for a heartbeat quorum. A
// quorum for a later request confirms every earlier one too, so requests are
// released in arrival order.
type readOnly struct {
	pending map[string]*readIndexStatus
	queue   []string
}

func newReadOnly() readOnly {
	return readOnly{pending: make(map[string]*readIndexStatus)}
}

func (ro *readOnly) add(index uint64, m Message) {
	ctx := string(m.Context)
	if _, ok := ro.pending[ctx]; ok {
		return
	}
	ro.pending[ctx] = &readIndexStatus{req: m, index: index, acks: make(map[NodeID]bool)}
	ro.queue = append(ro.queue, ctx)
}

func (ro *readOnly) recvAck(from NodeID, ctx []byte) map[NodeID]bool {
	rs, ok := ro.pending[string(ctx)]
	if !ok {
		return nil
	}
	rs.acks[from] = true
	return rs.acks
}

// advance releases every request up to and including the one with ctx.
func (ro *readOnly) advance(ctx []byte) []*readIndexStatus {
	var released []*readIndexStatus
	for i, c := range ro.queue {
		released = append(released, ro.pending[c])
		if c == string(ctx) {
			for _, rs := range released {
				delete(ro.pending, string(rs.req.Context))
			}
			ro.queue = ro.queue[i+1:]
			return released
		}
	}
	return nil
}

func (ro *readOnly) lastPendingCtx() []byte {
	if len(ro.queue) == 0 {
		return nil
	}
	return []byte(ro.queue[len(ro.queue)-1])
}

func (ro *readOnly) reset() {
	clear(ro.pending)
	ro.queue = nil
}
