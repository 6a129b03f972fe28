package evict

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, canon string
		want      config
	}{
		{"none", "none", config{kind: kindNone}},
		{" none ", "none", config{kind: kindNone}},
		{"none:read=fresh", "none:read=fresh", config{kind: kindNone, read: readFresh, readBlock: 2 << 20}},
		{"none:read=each", "none:read=each", config{kind: kindNone, read: readEach}},
		{"flush-each", "flush-each", config{kind: kindFlushEach, read: readEach}},
		{"flush-each:read=keep", "flush-each:read=keep", config{kind: kindFlushEach, read: readKeep}},
		{"window:8", "window:8", config{kind: kindWindow, windows: 8, read: readEach}},
		{"window:1", "window:1", config{kind: kindWindow, windows: 1, read: readEach}},
		{"window:bytes=16M", "window:bytes=16M", config{kind: kindWindow, bytes: 16 << 20, read: readEach}},
		{"window:bytes=16MiB", "window:bytes=16M", config{kind: kindWindow, bytes: 16 << 20, read: readEach}},
		{"window:bytes=16mb", "window:bytes=16M", config{kind: kindWindow, bytes: 16 << 20, read: readEach}},
		{"window:bytes=2T", "window:bytes=2T", config{kind: kindWindow, bytes: 2 << 40, read: readEach}},
		{"window:bytes=1P", "window:bytes=1P", config{kind: kindWindow, bytes: 1 << 50, read: readEach}},
		{"window:bytes=1536K", "window:bytes=1536K", config{kind: kindWindow, bytes: 1536 << 10, read: readEach}},
		{"window:bytes=1000", "window:bytes=1000", config{kind: kindWindow, bytes: 1000, read: readEach}},
		{"window:8,bytes=1G", "window:8,bytes=1G", config{kind: kindWindow, windows: 8, bytes: 1 << 30, read: readEach}},
		{"window:8,per=stream", "window:8,per=stream", config{kind: kindWindow, windows: 8, perStream: true, read: readEach}},
		{"window:8,per=process", "window:8", config{kind: kindWindow, windows: 8, read: readEach}},
		{"window:8,merge", "window:8,merge", config{kind: kindWindow, windows: 8, merge: 1 << 20, read: readEach}},
		{"window:8,merge=4M", "window:8,merge=4M", config{kind: kindWindow, windows: 8, merge: 4 << 20, read: readEach}},
		{"window:8,drain", "window:8,drain", config{kind: kindWindow, windows: 8, drain: true, read: readEach}},
		{"window:8,read=fresh,block=4M", "window:8,read=fresh,block=4M", config{kind: kindWindow, windows: 8, read: readFresh, readBlock: 4 << 20}},
		{"window:drain,read=keep,merge,per=stream,bytes=32m,4", "", config{}}, // count must come first
		{"window:4,drain,read=keep,merge,per=stream,bytes=32m", "window:4,bytes=32M,per=stream,merge,drain,read=keep",
			config{kind: kindWindow, windows: 4, bytes: 32 << 20, perStream: true, merge: 1 << 20, drain: true, read: readKeep}},
	} {
		got, err := parseConfig(tc.in)
		if tc.canon == "" {
			if err == nil {
				t.Errorf("parseConfig(%q) = %+v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseConfig(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("parseConfig(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if s := got.String(); s != tc.canon {
			t.Errorf("parseConfig(%q).String() = %q, want %q", tc.in, s, tc.canon)
		}
		again, err := parseConfig(got.String())
		if err != nil || again != got {
			t.Errorf("round trip of %q: %+v, %v", got.String(), again, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, mention string }{
		{"", "empty name"},
		{"cache=none", "unknown name"},
		{"None", "unknown name"},
		{"window", "needs a bound"},
		{"window:", "empty option list"},
		{"window:0", "not a positive integer"},
		{"window:-1", "not a positive integer"},
		{"window:8x", "not a positive integer"},
		{"window:99999999999999999999", "not a positive integer"},
		{"window:8,8", "comes first"},
		{"none:8", "comes first"},
		{"window:8,,drain", "empty option"},
		{"window:8,drain=yes", "no value"},
		{"window:8,drain,drain", "twice"},
		{"window:8,bytes", "missing size"},
		{"window:8,bytes=", "want a number"},
		{"window:8,bytes=0", "positive number"},
		{"window:8,bytes=-4K", "want a number"},
		{"window:8,bytes=12Q", "unknown suffix"},
		{"window:8,bytes=1iB", "unknown suffix"},
		{"window:8,bytes=99999999T", "too large"},
		{"window:8,per=thread", "per=stream or per=process"},
		{"window:8,merge=0", "positive number"},
		{"window:8,read=drop", "read=keep, read=each or read=fresh"},
		{"window:8,fast", "unknown option"},
		{"none:drain", "window only"},
		{"flush-each:merge", "window only"},
		{"none:bytes=1M", "window only"},
		{"none:per=stream", "window only"},
		{"none:read=each,block=2M", "read=fresh only"},
		{"none:read=fresh,block=1000", "multiple of 4K"},
	} {
		p, err := Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want an error", tc.in, p)
			continue
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) error %v does not wrap ErrSyntax", tc.in, err)
		}
		if !strings.Contains(err.Error(), tc.mention) || !strings.Contains(err.Error(), tc.in) {
			t.Errorf("Parse(%q) error %q: want it to quote the input and mention %q", tc.in, err, tc.mention)
		}
	}
}

// TestNamesDocumentsParse checks that every example in the help text parses
// and every option of the syntax is explained.
func TestNamesDocumentsParse(t *testing.T) {
	_, examples, ok := strings.Cut(Names, "Examples:")
	if !ok {
		t.Fatal("Names has no Examples")
	}
	examples, rec, ok := strings.Cut(examples, "Recommended:")
	if !ok || strings.TrimSpace(rec) != Recommended {
		t.Errorf("Names does not end with the recommended policy %q", Recommended)
	}
	if _, err := parseConfig(Recommended); err != nil {
		t.Errorf("Recommended: %v", err)
	}
	ex := strings.Fields(examples)
	if len(ex) < 5 {
		t.Fatalf("Names lists only %d examples", len(ex))
	}
	for _, e := range ex {
		if _, err := parseConfig(e); err != nil {
			t.Errorf("example %q in Names: %v", e, err)
		}
	}
	for _, word := range []string{"none", "flush-each", "window:N", "bytes=", "per=stream", "merge", "drain", "read=", "keep", "each", "fresh", "block="} {
		if !strings.Contains(Names, word) {
			t.Errorf("Names does not explain %q", word)
		}
	}
}

func TestPoliciesAreIndependent(t *testing.T) {
	a, err := Parse("window:8")
	if err != nil {
		t.Skip(err)
	}
	b, _ := Parse("window:8")
	if a.(*policy).shared == b.(*policy).shared {
		t.Fatal("two Parse results share one ring")
	}
	c, _ := Parse("window:8,per=stream")
	if c.(*policy).shared != nil {
		t.Fatal("per=stream policy has a shared ring")
	}
}

func TestAddSpan(t *testing.T) {
	var l []span64
	for _, s := range []span64{{10, 20}, {30, 40}, {0, 5}, {20, 25}, {5, 10}, {26, 29}, {24, 31}} {
		l = addSpan(l, s)
	}
	want := []span64{{0, 40}}
	if len(l) != 1 || l[0] != want[0] {
		t.Fatalf("addSpan result %v, want %v", l, want)
	}
	l = addSpan(addSpan(nil, span64{50, 60}), span64{10, 20})
	if len(l) != 2 || l[0] != (span64{10, 20}) || l[1] != (span64{50, 60}) {
		t.Fatalf("addSpan result %v", l)
	}
}

// FuzzParse checks that no text makes parseConfig panic, and that every
// accepted text has a canonical name that parses back to the same policy.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"none", "flush-each", "window:8", "window:bytes=16M,merge,drain,read=fresh", "window:1,per=stream,merge=4K", "none:read=fresh,block=4M", "window:8,bytes=1iB", "window:,", "window:auto,max=64M,min=256K,merge"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := parseConfig(text)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("parseConfig(%q) error %v does not wrap ErrSyntax", text, err)
			}
			return
		}
		again, err := parseConfig(c.String())
		if err != nil || again != c {
			t.Fatalf("parseConfig(%q) = %+v; its name %q parses to %+v, %v", text, c, c.String(), again, err)
		}
	})
}
