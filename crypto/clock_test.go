package crypto

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClockCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newClockCache[string, int](3)
	for i, k := range []string{"a", "b", "c"} {
		c.put(k, i, nil)
	}
	_, _ = c.get("a")
	c.put("d", 3, nil)
	_, ok := c.get("b")
	require.False(t, ok, "b was not used since it was put: evicted")
	for _, k := range []string{"a", "c", "d"} {
		_, ok := c.get(k)
		require.True(t, ok, k)
	}
	// A hot key survives a stream of cold ones.
	for i := range 100 {
		_, ok := c.get("a")
		require.True(t, ok, "round %d", i)
		c.put(fmt.Sprint("cold", i), i, nil)
		require.LessOrEqual(t, c.len(), 3)
	}
	// A stale entry goes when the hand reaches it, used or not.
	c = newClockCache[string, int](2)
	c.put("x", -1, nil)
	c.put("z", 1, nil)
	_, _ = c.get("x")
	_, _ = c.get("z")
	c.put("y", 0, func(v int) bool { return v < 0 })
	_, ok = c.get("x")
	require.False(t, ok)
	_, ok = c.get("z")
	require.True(t, ok)
	// Replacing keeps one entry per key; removeIf removes.
	c.put("y", 7, nil)
	v, _ := c.get("y")
	require.Equal(t, 7, v)
	require.Equal(t, 1, c.removeIf(func(k string, _ int) bool { return k == "y" }))
	_, ok = c.get("y")
	require.False(t, ok)
	require.Equal(t, 1, c.len())
}

func TestClockCacheConcurrent(t *testing.T) {
	c := newClockCache[int, int](16)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := (g*7 + i) % 40
				if v, ok := c.get(k); ok && v != k {
					t.Errorf("key %d holds %d", k, v)
				}
				c.put(k, k, nil)
				if i%100 == 0 {
					c.removeIf(func(k, _ int) bool { return k%10 == g })
				}
			}
		}()
	}
	wg.Wait()
	require.LessOrEqual(t, c.len(), 16)
}
