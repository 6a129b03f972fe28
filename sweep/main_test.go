package sweep

import (
	"os"
	"testing"

	"github.com/pagecache-suite/wcache/internal/testenv"
)

// The end-to-end tests time copies and assert the residency they leave.
func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
