package store

// NumSlots is the number of Redis Cluster hash slots.
const NumSlots = 16384

var crc16Table = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// KeySlot returns the Redis Cluster slot of key: CRC16-XMODEM of the key, or
// of its hash tag (the part between the first '{' and the next '}' when that
// is not empty), modulo 16384.
func KeySlot(key []byte) int {
	for i, c := range key {
		if c == '{' {
			for j := i + 1; j < len(key); j++ {
				if key[j] == '}' {
					if j > i+1 {
						key = key[i+1 : j]
					}
					break
				}
			}
			break
		}
	}
	var crc uint16
	for _, c := range key {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^c]
	}
	return int(crc) & (NumSlots - 1)
}

// KeysInSlot returns up to count keys of the slot (CLUSTER GETKEYSINSLOT).
// Like Redis it lists keys past their deadline that are not yet deleted.
func (s *Store) KeysInSlot(slot int, count int) [][]byte {
	if slot < 0 || slot >= NumSlots || count <= 0 {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var keys [][]byte
	s.keys.Ascend(item{ord: uint64(slot) << 50}, func(it item) bool {
		if int(it.ord>>50) != slot {
			return false
		}
		keys = append(keys, []byte(it.key()))
		return len(keys) < count
	})
	return keys
}

// CountKeysInSlot returns the number of keys in the slot (CLUSTER COUNTKEYSINSLOT).
func (s *Store) CountKeysInSlot(slot int) int {
	if slot < 0 || slot >= NumSlots {
		return 0
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int(s.slots[slot])
}
