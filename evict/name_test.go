package evict

import "testing"

// TestNamesCanonical checks that the names the suite builds are what
// Parse accepts and String writes back, so a name in a table is the policy
// that ran.
func TestNamesCanonical(t *testing.T) {
	for _, n := range []Name{None, FlushEach, Window(1), Window(NbdkitWindows), CacheNone(NbdkitWindows), CacheNone(3)} {
		c, err := parseConfig(string(n))
		if err != nil {
			t.Errorf("parse %q: %v", n, err)
			continue
		}
		if got := c.String(); got != string(n) {
			t.Errorf("%q reads back as %q", n, got)
		}
	}
	c, err := parseConfig(string(CacheNone(4)))
	if err != nil {
		t.Fatal(err)
	}
	if c.kind != kindWindow || c.windows != 4 || !c.drain || c.read != readFresh || c.perStream || c.merge != 0 || c.bytes != 0 {
		t.Errorf("CacheNone(4) = %+v: want a drained ring of 4 windows with read=fresh", c)
	}
}
