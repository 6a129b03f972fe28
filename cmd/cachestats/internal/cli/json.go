package cli

import (
	"io"
	"os"
	"strconv"
	"unicode/utf8"
)

// jsonWriter writes the fixed --json schema by hand, byte for byte as
// encoding/json's Encoder would (indented with two spaces, or compact),
// except that it does not escape <, > and &. encoding/json and the reflect
// machinery it needs would add about a tenth to the peak RSS of a command
// whose memory is compared with fincore's.
type jsonWriter struct {
	buf    []byte
	indent bool
	first  []bool    // per open container: no element written yet
	out    io.Writer // where flush writes buf; nil keeps it all in buf
}

// flush writes what buf holds to out, if set.
func (w *jsonWriter) flush() {
	if w.out != nil {
		w.out.Write(w.buf)
		w.buf = w.buf[:0]
	}
}

func (w *jsonWriter) open(c byte) {
	w.buf = append(w.buf, c)
	w.first = append(w.first, true)
}

func (w *jsonWriter) close(c byte) {
	empty := w.first[len(w.first)-1]
	w.first = w.first[:len(w.first)-1]
	if !empty {
		w.newline()
	}
	w.buf = append(w.buf, c)
}

// elem starts an element of the innermost container.
func (w *jsonWriter) elem() {
	top := &w.first[len(w.first)-1]
	if !*top {
		w.buf = append(w.buf, ',')
	}
	*top = false
	w.newline()
}

func (w *jsonWriter) newline() {
	if !w.indent {
		return
	}
	w.buf = append(w.buf, '\n')
	for range w.first {
		w.buf = append(w.buf, "  "...)
	}
}

// key starts the member k of the innermost object.
func (w *jsonWriter) key(k string) {
	w.elem()
	w.str(k)
	w.buf = append(w.buf, ':')
	if w.indent {
		w.buf = append(w.buf, ' ')
	}
}

func (w *jsonWriter) int(n int64) { w.buf = strconv.AppendInt(w.buf, n, 10) }

// float writes f as encoding/json does for values in [1e-6, 1e21).
func (w *jsonWriter) float(f float64) { w.buf = strconv.AppendFloat(w.buf, f, 'f', -1, 64) }

// str writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func (w *jsonWriter) str(s string) {
	const hex = "0123456789abcdef"
	w.buf = append(w.buf, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			w.buf = append(w.buf, `\ufffd`...)
		case r == '"' || r == '\\':
			w.buf = append(w.buf, '\\', byte(r))
		case r == '\n':
			w.buf = append(w.buf, `\n`...)
		case r == '\r':
			w.buf = append(w.buf, `\r`...)
		case r == '\t':
			w.buf = append(w.buf, `\t`...)
		case r < 0x20, r == '\u2028', r == '\u2029':
			w.buf = append(w.buf, `\u`...)
			w.buf = append(w.buf, hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15])
		default:
			w.buf = append(w.buf, s[i:i+size]...)
		}
		i += size
	}
	w.buf = append(w.buf, '"')
}

func (js *jsonSample) write(w *jsonWriter) {
	w.beginSample(js.Time)
	for i := range js.Files {
		w.elem()
		js.Files[i].write(w)
	}
	errs := newErrorList(w.indent)
	defer errs.close()
	for _, e := range js.Errors {
		errs.add(e.Path, e.Error)
	}
	w.endSample(errs, &js.Total)
}

// beginSample opens a sample's object and its "files" array; the files
// follow one by one (elem, then jsonStat.write), so that a sample of any
// number of files is written without holding them.
func (w *jsonWriter) beginSample(time string) {
	w.open('{')
	if time != "" {
		w.key("time")
		w.str(time)
	}
	w.key("files")
	w.open('[')
}

// endSample closes the "files" array, writes the errors (if any) and the
// total and closes the sample's object.
func (w *jsonWriter) endSample(errs *errorList, total *jsonStat) {
	w.close(']')
	if errs.n > 0 {
		w.key("errors")
		w.open('[')
		errs.writeTo(w)
		w.first[len(w.first)-1] = false
		w.close(']')
	}
	w.key("total")
	total.write(w)
	w.close('}')
}

// errorList holds a sample's errors, encoded, until its files are written:
// the schema puts them after the files. Beyond spillAt bytes it moves them
// to an unlinked temporary file, so that a walk over many unreadable files
// does not hold their errors in memory; where no temporary file can be
// written it keeps them in memory.
type errorList struct {
	w     jsonWriter // the elements, as inside a sample's "errors" array
	n     int
	spill *os.File
	size  int64 // bytes in spill
	stuck bool  // the temporary file failed: keep the rest in memory
}

// spillAt is the encoded size of the errors kept in memory.
var spillAt = 256 << 10

func newErrorList(indent bool) *errorList {
	return &errorList{w: jsonWriter{indent: indent, first: []bool{false, true}}}
}

func (l *errorList) add(path, msg string) {
	l.n++
	l.w.elem()
	l.w.open('{')
	l.w.key("path")
	l.w.str(path)
	l.w.key("error")
	l.w.str(msg)
	l.w.close('}')
	if len(l.w.buf) >= spillAt && !l.stuck {
		l.toDisk()
	}
}

// toDisk appends the errors in memory to the temporary file.
func (l *errorList) toDisk() {
	if l.spill == nil {
		f, err := os.CreateTemp("", "cachestats-errors-")
		if err != nil {
			l.stuck = true
			return
		}
		os.Remove(f.Name()) // gone with the descriptor
		l.spill = f
	}
	if _, err := l.spill.WriteAt(l.w.buf, l.size); err != nil {
		// Keep the rest in memory; what was half written lies past
		// size, where writeTo does not read.
		l.stuck = true
		return
	}
	l.size += int64(len(l.w.buf))
	l.w.buf = l.w.buf[:0]
}

// writeTo writes the encoded errors to w, from the disk first.
func (l *errorList) writeTo(w *jsonWriter) {
	if l.spill != nil {
		disk := io.NewSectionReader(l.spill, 0, l.size)
		if w.out != nil {
			w.flush()
			io.Copy(w.out, disk)
		} else {
			b, _ := io.ReadAll(disk)
			w.buf = append(w.buf, b...)
		}
	}
	w.buf = append(w.buf, l.w.buf...)
}

// close releases the temporary file.
func (l *errorList) close() {
	if l.spill != nil {
		l.spill.Close()
	}
}

func (j *jsonStat) write(w *jsonWriter) {
	w.open('{')
	if j.Path != "" {
		w.key("path")
		w.str(j.Path)
	}
	if j.Files != nil {
		w.key("files")
		w.int(int64(*j.Files))
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"size", j.Size}, {"page_size", int64(j.PageSize)}, {"pages", j.Pages}, {"resident", j.Resident}} {
		w.key(f.name)
		w.int(f.v)
	}
	w.key("percent")
	w.float(j.Percent)
	for _, f := range []struct {
		name string
		v    *int64
	}{{"dirty", j.Dirty}, {"writeback", j.Writeback}, {"evicted", j.Evicted}, {"recently_evicted", j.RecentlyEvicted}} {
		if f.v != nil {
			w.key(f.name)
			w.int(*f.v)
		}
	}
	if j.Method != "" {
		w.key("method")
		w.str(j.Method)
	}
	if j.ResidentRuns != nil {
		w.key("resident_runs")
		w.open('[')
		for _, run := range j.ResidentRuns {
			w.elem()
			w.open('[')
			for _, v := range run {
				w.elem()
				w.int(v)
			}
			w.close(']')
		}
		w.close(']')
	}
	w.close('}')
}
