package results

import (
	"encoding/csv"
	"io"
	"strconv"
)

// WriteCSV writes one row per sample, with its configuration's fields.
func WriteCSV(w io.Writer, s *Sweep) error {
	cw := csv.NewWriter(w)
	head := []string{"config", "server", "policy", "windows", "role", "rep", "seq"}
	for _, m := range Metrics {
		head = append(head, m.Key)
	}
	head = append(head, "bytes_written", "pages", "lat_p50_sec", "lat_p99_sec", "lat_max_sec", "integrity_ok", "caches_dropped")
	if err := cw.Write(head); err != nil {
		return err
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, c := range s.Configs {
		for _, x := range s.SamplesOf(c.Name) {
			row := []string{c.Name, string(c.Server), string(c.Policy), strconv.Itoa(c.Windows), c.Role, strconv.Itoa(x.Rep), strconv.Itoa(x.Seq)}
			for _, m := range Metrics {
				row = append(row, f(m.Value(x)))
			}
			row = append(row, strconv.FormatInt(x.BytesWritten, 10), strconv.FormatInt(x.Pages, 10),
				f(x.LatP50), f(x.LatP99), f(x.LatMax),
				strconv.FormatBool(x.IntegrityOK), strconv.FormatBool(x.CachesDropped))
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
