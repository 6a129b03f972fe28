package sweep

import (
	"testing"

	"github.com/pagecache-suite/wcache/internal/testenv"
)

// The end-to-end tests time copies and assert the residency they leave.
func TestMain(m *testing.M) { testenv.Main(m) }
