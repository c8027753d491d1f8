package store_test

import (
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/broker/store/storetest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		s := store.NewMemory(now)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
