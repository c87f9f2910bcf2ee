// Package countio counts the bytes that pass through a writer: a snapshot's
// size as it is written, a backup's length for its trailer.
package countio

import "io"

// Writer writes to W and counts in N the bytes W accepted.
type Writer struct {
	W io.Writer
	N int64
}

func (c *Writer) Write(p []byte) (int, error) {
	n, err := c.W.Write(p)
	c.N += int64(n)
	return n, err
}
