package consensus

// Transport carries messages between the cores of one or more groups.
// Send must not block: a transport with a full queue for a peer drops
// messages, and Raft's retries recover them.
type Transport interface {
	Send(msgs []Message)
}
