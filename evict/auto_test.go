package evict

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAuto(t *testing.T) {
	auto := func(min, max int64) config {
		return config{kind: kindWindow, auto: true, autoMin: min, autoMax: max, drain: true, read: readEach}
	}
	faithful := func(min, max int64) config {
		c := auto(min, max)
		c.autoFloorWindows = NbdkitWindows
		return c
	}
	for _, tc := range []struct {
		in, canon string
		want      config
	}{
		{"window:auto", "window:auto", faithful(1<<20, 16<<20)},
		{"window:auto,drain", "window:auto", faithful(1<<20, 16<<20)},
		{"window:auto,max=64M", "window:auto,max=64M", faithful(1<<20, 64<<20)},
		{"window:auto,max=512K", "window:auto,max=512K", faithful(512<<10, 512<<10)},
		// An explicit min= is the whole floor, even the default's 1M.
		{"window:auto,min=1M", "window:auto,min=1M", auto(1<<20, 16<<20)},
		{"window:auto,min=256K", "window:auto,min=256K", auto(256<<10, 16<<20)},
		{"window:auto,min=32M", "window:auto,min=32M", auto(32<<20, 32<<20)},
		{"window:auto,max=32M,min=32M", "window:auto,min=32M", auto(32<<20, 32<<20)},
		{"window:auto,max=16M,min=1M", "window:auto,min=1M", auto(1<<20, 16<<20)},
		{"window:auto,max=8M,min=8M", "window:auto,max=8M,min=8M", auto(8<<20, 8<<20)},
		{"window:min=2M,merge,auto,per=stream,read=fresh", "window:auto,min=2M,per=stream,merge,read=fresh", func() config {
			c := auto(2<<20, 16<<20)
			c.merge, c.perStream, c.read, c.readBlock = DefaultMergeSize, true, readFresh, DefaultReadBlock
			return c
		}()},
	} {
		got, err := parseConfig(tc.in)
		checkConfig(t, tc.in, tc.canon, tc.want, got, err)
	}
	for _, tc := range []struct{ in, mention string }{
		{"window:auto=yes", "no value"},
		{"window:8,auto", "no count or bytes"},
		{"window:auto,bytes=16M", "no count or bytes"},
		{"window:auto,auto", "twice"},
		{"window:8,max=16M", "window:auto only"},
		{"none:min=1M", "window:auto only"},
		{"none:auto", "window only"},
		{"window:auto,max", "missing size"},
		{"window:auto,min=0", "positive number"},
		{"window:auto,max=1M,min=2M", "above max"},
	} {
		_, err := Parse(tc.in)
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tc.mention) || !strings.Contains(err.Error(), tc.in) {
			t.Errorf("Parse(%q) error %v: want ErrSyntax quoting the input and mentioning %q", tc.in, err, tc.mention)
		}
	}
}

// TestAutoStateOfOtherPolicies: only window:auto has a controller to show.
func TestAutoStateOfOtherPolicies(t *testing.T) {
	for _, text := range []string{"none", "window:8", "window:bytes=16M,merge,drain"} {
		p, err := Parse(text)
		if err != nil {
			t.Skip(err)
		}
		if st := p.(AutoStater).AutoState(); st != (AutoState{}) {
			t.Errorf("%s: AutoState() = %+v, want the zero state", text, st)
		}
	}
	p, err := Parse("window:auto,max=4M,min=512K")
	if err != nil {
		t.Skip(err)
	}
	st := p.(AutoStater).AutoState()
	if st.Min != 512<<10 || st.Max != 4<<20 || st.Limit < st.Min || st.Limit > st.Max || st.Samples != 0 {
		t.Errorf("fresh window:auto state %+v: want min 512K, max 4M, a limit between them and no samples", st)
	}
}
