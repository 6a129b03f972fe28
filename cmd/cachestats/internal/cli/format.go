package cli

import (
	"bufio"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/pagecache-suite/wcache/pagecache"
)

// timeFormat stamps --watch samples: RFC 3339 with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// print writes sample s to stdout (as text or JSON) and its errors to
// stderr; stamped prefixes the time, as --watch does.
func (r *runner) print(s sample, stamped bool) {
	for _, res := range s.results {
		if res.err != nil {
			io.WriteString(r.stderr, "cachestats: "+res.stat.Path+": "+reason(res.stat.Path, res.err)+"\n")
		}
	}
	w := bufio.NewWriter(r.stdout)
	defer w.Flush()
	if r.json {
		r.printJSON(w, s, stamped)
		return
	}
	prefix := ""
	if stamped {
		prefix = s.time.Format(timeFormat) + " "
	}
	for _, res := range s.results {
		if res.err != nil {
			continue
		}
		name := ""
		if s.named {
			name = res.stat.Path + ": "
		}
		w.WriteString(prefix + name + r.line(res.stat) + "\n")
		if res.pmap != nil {
			writeMap(w, res.pmap)
			if s.named {
				w.WriteByte('\n')
			}
		}
	}
	if s.named {
		t, n := s.total()
		files := "files"
		if n == 1 {
			files = "file"
		}
		w.WriteString(prefix + "total (" + strconv.Itoa(n) + " " + files + "): " + r.line(t) + "\n")
	}
}

// line is nocache's cachestats line, with the extended counts under -x.
func (r *runner) line(st pagecache.Stat) string {
	d := strconv.FormatInt
	l := "pages in cache: " + d(st.Resident, 10) + "/" + d(st.Pages, 10) +
		" (" + strconv.FormatFloat(st.Percent(), 'f', 1, 64) + "%)  [filesize=" +
		strconv.FormatFloat(float64(st.Size)/1024, 'f', 1, 64) + "K, pagesize=" + strconv.Itoa(st.PageSize/1024) + "K]"
	switch {
	case !r.extended:
	case st.Extended:
		l += "  [dirty=" + d(st.Dirty, 10) + ", writeback=" + d(st.Writeback, 10) +
			", evicted=" + d(st.Evicted, 10) + ", recently-evicted=" + d(st.RecentlyEvicted, 10) + "]"
	default:
		l += "  [dirty, writeback, evicted: unknown, mincore does not count them]"
	}
	return l
}

// pagesPerRow is the width of nocache's cache map.
const pagesPerRow = 32

// writeMap draws m as nocache's cachestats -v does: a blank line, "cache
// map:", then rows of 32 pages, each row led by the index of its first page.
func writeMap(w *bufio.Writer, m *pagecache.PageMap) {
	w.WriteString("\ncache map:\n")
	row := make([]byte, 0, 2*pagesPerRow+32)
	for i := int64(0); i < m.Len(); i += pagesPerRow {
		index := strconv.FormatInt(i, 10)
		row = append(row[:0], "      "[min(len(index), 6):]...) // %6d
		row = append(append(append(row, index...), ": "...), '|')
		for j := i; j < min(i+pagesPerRow, m.Len()); j++ {
			c := byte(' ')
			if m.Resident(j) {
				c = 'x'
			}
			row = append(row, c, '|')
		}
		w.Write(append(row, '\n'))
	}
}

// total adds up the measured files; it returns the sum and their number.
func (s sample) total() (pagecache.Stat, int) {
	t := pagecache.Stat{PageSize: os.Getpagesize(), Extended: true}
	n := 0
	for _, res := range s.results {
		if res.err != nil {
			continue
		}
		st := res.stat
		if n == 0 {
			t.PageSize, t.Method = st.PageSize, st.Method
		} else if t.Method != st.Method {
			t.Method = "mixed"
		}
		n++
		t.Size += st.Size
		t.Length += st.Length
		t.Pages += st.Pages
		t.Resident += st.Resident
		t.Extended = t.Extended && st.Extended
		t.Dirty += st.Dirty
		t.Writeback += st.Writeback
		t.Evicted += st.Evicted
		t.RecentlyEvicted += st.RecentlyEvicted
	}
	if n == 0 {
		t.Extended = false
	}
	return t, n
}

// jsonStat is a Stat as --json prints it. The extended counts are absent
// when the method did not give them. The tags document the schema (and
// let tests decode it); json.go writes it.
type jsonStat struct {
	Path            string     `json:"path,omitempty"`
	Files           *int       `json:"files,omitempty"` // in the total
	Size            int64      `json:"size"`
	PageSize        int        `json:"page_size"`
	Pages           int64      `json:"pages"`
	Resident        int64      `json:"resident"`
	Percent         float64    `json:"percent"`
	Dirty           *int64     `json:"dirty,omitempty"`
	Writeback       *int64     `json:"writeback,omitempty"`
	Evicted         *int64     `json:"evicted,omitempty"`
	RecentlyEvicted *int64     `json:"recently_evicted,omitempty"`
	Method          string     `json:"method,omitempty"`
	ResidentRuns    [][2]int64 `json:"resident_runs,omitzero"` // with -v: [first page, pages]
}

type jsonError struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

type jsonSample struct {
	Time   string      `json:"time,omitempty"`
	Files  []jsonStat  `json:"files"`
	Errors []jsonError `json:"errors,omitempty"`
	Total  jsonStat    `json:"total"`
}

func toJSON(st pagecache.Stat, m *pagecache.PageMap) jsonStat {
	j := jsonStat{
		Path: st.Path, Size: st.Size, PageSize: st.PageSize, Pages: st.Pages,
		Resident: st.Resident, Percent: math.Round(st.Percent()*100) / 100,
		Method: string(st.Method),
	}
	if st.Extended {
		j.Dirty, j.Writeback, j.Evicted, j.RecentlyEvicted = &st.Dirty, &st.Writeback, &st.Evicted, &st.RecentlyEvicted
	}
	if m != nil {
		j.ResidentRuns = [][2]int64{}
		for run := range m.Runs() {
			if run.Resident {
				j.ResidentRuns = append(j.ResidentRuns, [2]int64{m.First + run.Start, run.Len})
			}
		}
	}
	return j
}

// printJSON writes s as one JSON document: indented for a single sample,
// one line per sample (JSON Lines) under --watch.
func (r *runner) printJSON(w io.Writer, s sample, stamped bool) {
	js := jsonSample{Files: []jsonStat{}}
	if stamped {
		js.Time = s.time.Format(timeFormat)
	}
	for _, res := range s.results {
		if res.err != nil {
			js.Errors = append(js.Errors, jsonError{res.stat.Path, reason(res.stat.Path, res.err)})
			continue
		}
		js.Files = append(js.Files, toJSON(res.stat, res.pmap))
	}
	t, n := s.total()
	js.Total = toJSON(t, nil)
	js.Total.Files = &n
	jw := jsonWriter{indent: !stamped}
	js.write(&jw)
	w.Write(append(jw.buf, '\n'))
}
