package store

// Sweep runs one sweep now, so tests need not wait for the minute ticker.
func (b *Bolt) Sweep() (int, error) { return b.sweep() }
