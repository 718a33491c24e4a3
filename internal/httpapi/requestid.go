package httpapi

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
)

// IDGenerator makes request ids: 16 hex characters, unique within the process without a
// system call. Each id is a bijective mix (the splitmix64 finaliser) of a random start plus a
// counter, so no two ids of a process are equal before 2^64 requests, and ids of different
// processes, which start at independent random points, do not follow one another. It is safe
// for concurrent use.
type IDGenerator struct {
	start uint64
	n     atomic.Uint64
}

// NewIDGenerator returns a generator starting at a random point.
func NewIDGenerator() *IDGenerator {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return &IDGenerator{start: binary.LittleEndian.Uint64(b[:])}
}

// Next returns a new request id.
func (g *IDGenerator) Next() string {
	const hexDigits = "0123456789abcdef"
	z := mix64(g.start + g.n.Add(1))
	var b [16]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = hexDigits[z&0xf]
		z >>= 4
	}
	return string(b[:])
}

// mix64 is the splitmix64 finaliser: a bijection of uint64 that scatters consecutive inputs.
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}
