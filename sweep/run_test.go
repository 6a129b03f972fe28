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
	var got []string
	for _, c := range cs {
		got = append(got, c.Name+" | "+string(c.Policy)+" | "+c.Role)
		if c.Name != results.ConfigName(c.Server, c.Policy) {
			t.Errorf("%s: name does not follow ConfigName", c.Name)
		}
	}
	want := []string{
		"builtin cache=default | none | reference",
		"builtin flush-each | flush-each | reference",
		"builtin window:1 | window:1 | sweep",
		"builtin window:8 | window:8 | sweep",
		"builtin window:8,drain | window:8,drain | extra",
		"builtin window:8,drain,read=fresh | window:8,drain,read=fresh | extra",
		"nbdkit cache=default | none | anchor",
		"nbdkit cache=none | window:8 | anchor",
	}
	if !slices.Equal(got, want) {
		t.Errorf("configurations:\n%q\nwant\n%q", got, want)
	}
	if _, err := Configs(&Options{Servers: []string{"qemu-nbd"}}); err == nil {
		t.Error("an unknown server was accepted")
	}
	if _, err := Configs(&Options{Servers: []string{"builtin"}, Policies: []string{"window:0x"}}); err == nil {
		t.Error("a bad policy was accepted")
	}
}
