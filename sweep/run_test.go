package sweep

import (
	"slices"
	"testing"

	"github.com/pagecache-suite/wcache/evict"
	"github.com/pagecache-suite/wcache/results"
)

func TestConfigs(t *testing.T) {
	o := Options{
		Servers:  []string{"builtin", "nbdkit"},
		Windows:  []int{1, 8},
		Policies: []string{"none", "window:8", "window:8,read=each,drain", string(evict.CacheNone(8))},
	}
	cs, err := Configs(&o)
	if err != nil {
		t.Fatal(err)
	}
	// Literal names: what a reader of the table sees for each policy.
	want := []results.Config{
		{Name: "builtin cache=default", Server: "builtin", Policy: "none", Role: "reference"},
		{Name: "builtin flush-each", Server: "builtin", Policy: "flush-each", Role: "reference"},
		{Name: "builtin window:1", Server: "builtin", Policy: "window:1", Windows: 1, Role: "sweep"},
		{Name: "builtin window:8", Server: "builtin", Policy: "window:8", Windows: 8, Role: "sweep"},
		{Name: "builtin window:8,drain", Server: "builtin", Policy: "window:8,drain", Role: "extra"},
		{Name: "builtin window:8,drain,read=fresh", Server: "builtin", Policy: "window:8,drain,read=fresh", Role: "extra"},
		{Name: "nbdkit cache=default", Server: "nbdkit", Policy: "none", Role: "anchor"},
		{Name: "nbdkit cache=none", Server: "nbdkit", Policy: "window:8", Windows: 8, Role: "anchor"},
	}
	if !slices.Equal(cs, want) {
		t.Errorf("configurations:\n%+v\nwant\n%+v", cs, want)
	}
	if _, err := Configs(&Options{Servers: []string{"qemu-nbd"}}); err == nil {
		t.Error("an unknown server was accepted")
	}
	if _, err := Configs(&Options{Servers: []string{"builtin"}, Policies: []string{"window:0x"}}); err == nil {
		t.Error("a bad policy was accepted")
	}
}
