package pagecache

import (
	"errors"
	"strings"
	"testing"
)

func TestReadSystemFixture(t *testing.T) {
	got, err := ReadSystem("testdata/proc-6.18")
	if err != nil {
		t.Fatal(err)
	}
	want := System{
		Meminfo{MemTotal: 24683620 * 1024, Cached: 225396 * 1024, Dirty: 8472 * 1024, Writeback: 0},
		Vmstat{NrDirty: 2118, NrWriteback: 0, NrDirtied: 219470, NrWritten: 155337},
	}
	if got != want {
		t.Errorf("ReadSystem = %+v, want %+v", got, want)
	}
}

func TestReadSystemLive(t *testing.T) {
	s, err := ReadSystem("/proc")
	if err != nil {
		t.Fatal(err)
	}
	if s.Cached == 0 || s.MemTotal < s.Cached || s.NrDirtied < s.NrDirty {
		t.Errorf("implausible live counters %+v", s)
	}
}

func TestReadSystemMissingRoot(t *testing.T) {
	if _, err := ReadSystem(t.TempDir()); err == nil {
		t.Fatal("ReadSystem on an empty root succeeded")
	}
}

func TestParseMeminfo(t *testing.T) {
	tests := []struct {
		name, in string
		want     Meminfo
		err      string // substring of the error, "" for none
	}{
		{"minimal", "MemTotal: 8 kB\nCached: 4 kB\nDirty: 2 kB\nWriteback: 1 kB\n", Meminfo{8192, 4096, 2048, 1024}, ""},
		{"other lines and order", "Writeback:  0 kB\nSwapCached: 7 kB\nDirty:\t3 kB\nMemTotal: 9 kB\nCached: 5 kB\nWritebackTmp: 8 kB\n", Meminfo{9216, 5120, 3072, 0}, ""},
		{"no trailing newline", "MemTotal: 1 kB\nCached: 1 kB\nDirty: 1 kB\nWriteback: 1 kB", Meminfo{1024, 1024, 1024, 1024}, ""},
		{"missing", "Cached: 1 kB\n", Meminfo{}, "missing Dirty, MemTotal, Writeback"},
		{"no unit", "Cached: 1\nDirty: 1 kB\nWriteback: 1 kB\n", Meminfo{}, `line 1 "Cached: 1"`},
		{"not a number", "Cached: x kB\nDirty: 1 kB\nWriteback: 1 kB\n", Meminfo{}, "line 1"},
		{"empty", "", Meminfo{}, "missing Cached, Dirty, MemTotal, Writeback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMeminfo(strings.NewReader(tt.in))
			checkParse(t, got, tt.want, err, tt.err)
		})
	}
}

func TestParseVmstat(t *testing.T) {
	tests := []struct {
		name, in string
		want     Vmstat
		err      string
	}{
		{"all", "nr_free_pages 1\nnr_dirty 2\nnr_writeback 3\nnr_writeback_temp 9\nnr_dirtied 4\nnr_written 5\n", Vmstat{2, 3, 4, 5}, ""},
		{"missing written", "nr_dirty 2\nnr_writeback 3\nnr_dirtied 4\n", Vmstat{}, "missing nr_written"},
		{"extra field", "nr_dirty 2 3\nnr_writeback 3\nnr_dirtied 4\nnr_written 5\n", Vmstat{}, "line 1"},
		{"negative", "nr_dirty -2\nnr_writeback 3\nnr_dirtied 4\nnr_written 5\n", Vmstat{}, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseVmstat(strings.NewReader(tt.in))
			checkParse(t, got, tt.want, err, tt.err)
		})
	}
}

func checkParse[T comparable](t *testing.T, got, want T, err error, wantErr string) {
	t.Helper()
	if wantErr == "" {
		if err != nil || got != want {
			t.Errorf("got %+v, %v; want %+v", got, err, want)
		}
		return
	}
	if !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), wantErr) {
		t.Errorf("error %v, want ErrParse containing %q", err, wantErr)
	}
}
