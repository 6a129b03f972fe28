package cli

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestJSONWriterMatchesEncoding checks the hand-written JSON against
// encoding/json, compact and indented, on values that exercise every
// field, omission and escape.
func TestJSONWriterMatchesEncoding(t *testing.T) {
	n, d := 2, int64(7)
	samples := []jsonSample{
		{Files: []jsonStat{}, Total: jsonStat{Files: new(int), PageSize: 4096, Method: "cachestat"}},
		{
			Time: "2026-11-25T12:00:00.000Z",
			Files: []jsonStat{
				{Path: "a \"quoted\"\\name\n\t\r\x01\u2028é", Size: 1, PageSize: 4096, Pages: 1, Resident: 1, Percent: 100, Dirty: &d, Writeback: &d, Evicted: &d, RecentlyEvicted: &d, Method: "cachestat", ResidentRuns: [][2]int64{{0, 1}, {5, 3}}},
				{Path: "b", Size: 123456789012, PageSize: 4096, Pages: 30141306, Resident: 3, Percent: 33.33, Method: "mincore", ResidentRuns: [][2]int64{}},
			},
			Errors: []jsonError{{Path: "c", Error: "stat: no such file"}, {Path: "d", Error: "x"}},
			Total:  jsonStat{Files: &n, Size: 123456789013, PageSize: 4096, Pages: 30141307, Resident: 4, Percent: 0.01, Method: "mixed"},
		},
	}
	inMemory := spillAt
	defer func() { spillAt = inMemory }()
	for _, s := range samples {
		for _, indent := range []bool{false, true} {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			if indent {
				enc.SetIndent("", "  ")
			}
			if err := enc.Encode(s); err != nil {
				t.Fatal(err)
			}
			w := jsonWriter{indent: indent}
			s.write(&w)
			if got := string(w.buf) + "\n"; got != want.String() {
				t.Errorf("indent=%v:\ngot  %s\nwant %s", indent, got, want.String())
			}
			// The same with every error moved to disk as it comes, read
			// back into memory and through a writer.
			spillAt = 1
			w = jsonWriter{indent: indent}
			s.write(&w)
			var out bytes.Buffer
			wo := jsonWriter{indent: indent, out: &out}
			s.write(&wo)
			wo.flush()
			if got := string(w.buf) + "\n"; got != want.String() || out.String()+"\n" != want.String() {
				t.Errorf("indent=%v, errors on disk:\ngot  %s\nand  %s\nwant %s", indent, got, out.String(), want.String())
			}
			spillAt = inMemory
		}
	}
	w := jsonWriter{}
	w.str("bad \xff utf-8")
	var back string
	if err := json.Unmarshal(w.buf, &back); err != nil || back != "bad \ufffd utf-8" {
		t.Errorf("invalid UTF-8: %s -> %q, %v", w.buf, back, err)
	}
}
