package neighbour

import (
	"time"

	"github.com/pagecache-suite/wcache/pagecache"
)

// Message is one line of the child's output; exactly one field is set.
type Message struct {
	Warm  *WarmUp `json:"warm,omitempty"`
	Phase *Phase  `json:"phase,omitempty"`
	Final *Final  `json:"final,omitempty"`
	Error string  `json:"error,omitempty"`
}

// WarmUp reports the whole-file read that precedes the phases.
type WarmUp struct {
	Bytes   int64          `json:"bytes"`
	Elapsed time.Duration  `json:"elapsed_ns"`
	Cached  pagecache.Stat `json:"cached"` // the file after it was read
}

// Phase reports the reads of one phase.
type Phase struct {
	Name    string        `json:"name"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Reads   int64         `json:"reads"`
	Rate    float64       `json:"rate"`   // reads per second achieved
	Missed  int64         `json:"missed"` // scheduled reads skipped because the neighbour fell behind (warm)

	P50  time.Duration `json:"p50_ns"`
	P99  time.Duration `json:"p99_ns"`
	Max  time.Duration `json:"max_ns"`
	Mean time.Duration `json:"mean_ns"`

	CPU      time.Duration `json:"cpu_ns"`  // user+system time of the process during the phase
	Read     time.Duration `json:"read_ns"` // time inside pread
	Overhead float64       `json:"overhead"`
}

// Final reports the file's page-cache state when the neighbour ends.
type Final struct {
	Cached pagecache.Stat `json:"cached"`
}
