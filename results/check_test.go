package results

import "testing"

func findings(fs []Finding) map[string][]Finding {
	m := map[string][]Finding{}
	for _, f := range fs {
		m[f.Check] = append(m[f.Check], f)
	}
	return m
}

func allOK(fs []Finding) bool {
	for _, f := range fs {
		if !f.OK {
			return false
		}
	}
	return len(fs) > 0
}

func TestCheckPassesOnItsBaseline(t *testing.T) {
	s := fixtureSweep()
	for _, f := range Check(s, CheckOptions{Baseline: fixtureSweep()}) {
		if !f.OK {
			t.Errorf("%s: %s", f.Check, f.Detail)
		}
	}
}

func TestCheckBudget(t *testing.T) {
	s := fixtureSweep()
	// window:8 leaves 8 x 64 pages plus a folio at most; make one run leave
	// a megabyte more than that.
	for i := range s.Samples {
		if s.Samples[i].Config == "builtin window:8" && s.Samples[i].Rep == 3 {
			s.Samples[i].ResidentEnd = 8*64 + DefaultBudgetSlackPages + 256
		}
	}
	m := findings(Check(s, CheckOptions{}))
	var failed []string
	for _, f := range m["budget"] {
		if !f.OK {
			failed = append(failed, f.Detail)
		}
	}
	if len(failed) != 1 {
		t.Errorf("budget failures %q, want exactly window:8", failed)
	}
	if !allOK(m["integrity"]) {
		t.Error("integrity failed on intact samples")
	}
}

func TestCheckIntegrity(t *testing.T) {
	s := fixtureSweep()
	s.Samples[4].IntegrityOK = false
	if allOK(findings(Check(s, CheckOptions{}))["integrity"]) {
		t.Error("a corrupt output passed the integrity check")
	}
}

func TestCheckRatios(t *testing.T) {
	base := fixtureSweep()
	s := fixtureSweep()
	// window:8 becomes 40% slower; everything else unchanged.
	for i := range s.Samples {
		if s.Samples[i].Config == "builtin window:8" {
			s.Samples[i].DurableSec *= 1.4
		}
	}
	m := findings(Check(s, CheckOptions{Baseline: base}))
	if allOK(m["cache=none cost"]) || allOK(m["against nbdkit"]) {
		t.Errorf("40%% slower window:8 passed: %+v %+v", m["cache=none cost"], m["against nbdkit"])
	}
	// 10% is inside the default 25% tolerance.
	s = fixtureSweep()
	for i := range s.Samples {
		if s.Samples[i].Config == "builtin window:8" {
			s.Samples[i].DurableSec *= 1.1
		}
	}
	m = findings(Check(s, CheckOptions{Baseline: base}))
	if !allOK(m["cache=none cost"]) || !allOK(m["against nbdkit"]) {
		t.Errorf("10%% slower window:8 failed: %+v %+v", m["cache=none cost"], m["against nbdkit"])
	}
}
