package cli

import (
	"bufio"
	"io"
	"math"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/pagecache-suite/wcache/pagecache"
)

// timeFormat stamps --watch samples: RFC 3339 with milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// printer writes one sample as its files are measured: a line (or a JSON
// object) per file to stdout, errors to stderr at once, and the running
// total, so that memory does not grow with the number of files. Only the
// errors of a JSON sample are kept, for the "errors" array that follows
// the files, and beyond a few hundred kilobytes on disk (errorList).
type printer struct {
	r      *runner
	w      *bufio.Writer
	named  bool   // name each file, add a total
	prefix string // the time stamp under --watch
	total  tally
	failed bool

	jw   *jsonWriter // with --json
	errs *errorList
}

// newPrinter starts a sample taken at t; stamped prefixes the time, as
// --watch does.
func (r *runner) newPrinter(t time.Time, named, stamped bool) *printer {
	p := &printer{r: r, w: bufio.NewWriter(r.stdout), named: named}
	if stamped {
		p.prefix = t.Format(timeFormat)
	}
	if r.json {
		p.jw = &jsonWriter{indent: !stamped, out: p.w}
		p.errs = newErrorList(!stamped)
		p.jw.beginSample(p.prefix)
		p.jw.flush()
	} else if p.prefix != "" {
		p.prefix += " "
	}
	return p
}

// add reports one file's measurement; it always asks for more.
func (p *printer) add(res result) bool {
	if res.err != nil {
		p.failed = true
		msg := reason(res.stat.Path, res.err)
		io.WriteString(p.r.stderr, "cachestats: "+quoteName(res.stat.Path)+": "+quoteName(msg)+"\n")
		if p.jw != nil {
			p.errs.add(res.stat.Path, msg)
		}
		return true
	}
	p.total.add(res.stat)
	if p.jw != nil {
		p.jw.elem()
		js := toJSON(res.stat, res.pmap)
		js.write(p.jw)
		p.jw.flush()
		return true
	}
	name := ""
	if p.named {
		name = quoteName(res.stat.Path) + ": "
	}
	p.w.WriteString(p.prefix + name + p.r.line(res.stat) + "\n")
	if res.pmap != nil {
		writeMap(p.w, res.pmap)
		if p.named {
			p.w.WriteByte('\n')
		}
	}
	return true
}

// end writes the total and flushes; it returns the exit status of the
// sample: 1 if a file could not be measured.
func (p *printer) end() int {
	defer p.w.Flush()
	t, n := p.total.sum()
	status := 0
	if p.failed {
		status = 1
	}
	if p.jw != nil {
		js := toJSON(t, nil)
		js.Files = &n
		p.jw.endSample(p.errs, &js)
		p.errs.close()
		p.jw.flush()
		p.w.WriteByte('\n')
		return status
	}
	if p.named {
		files := "files"
		if n == 1 {
			files = "file"
		}
		p.w.WriteString(p.prefix + "total (" + strconv.Itoa(n) + " " + files + "): " + p.r.line(t) + "\n")
	}
	return status
}

// quoteName returns s fit to print on a line of its own, as fincore and
// ls -b do: control characters (newline, tab, escape...), other
// characters that do not print and bytes that are not UTF-8 become \xHH,
// and a backslash becomes \\ so that the escapes cannot be forged. A name
// that needs none of this is returned as it is.
func quoteName(s string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\' {
		i++
	}
	if i == len(s) {
		return s
	}
	const hex = "0123456789abcdef"
	b := append(make([]byte, 0, len(s)+16), s[:i]...)
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f, r >= 0x80 && !strconv.IsPrint(r):
			for _, c := range []byte(s[i : i+size]) {
				b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
			}
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
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

// tally adds up the measured files.
type tally struct {
	t pagecache.Stat
	n int
}

func (y *tally) add(st pagecache.Stat) {
	t := &y.t
	if y.n == 0 {
		t.PageSize, t.Method, t.Extended = st.PageSize, st.Method, true
	} else if t.Method != st.Method {
		t.Method = "mixed"
	}
	y.n++
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

// sum returns the total and the number of files in it.
func (y *tally) sum() (pagecache.Stat, int) {
	if y.n == 0 {
		return pagecache.Stat{PageSize: os.Getpagesize()}, 0
	}
	return y.t, y.n
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
