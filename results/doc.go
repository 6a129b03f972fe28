// Package results stores, summarises and compares wbench sweeps.
//
// A Sweep is one run of wbench: the configurations it measured (the
// built-in NBD server running nbdkit's ring with each window count, the
// cache=default and flush-each references, nbdkit beside them), every
// Sample of every repetition, and the Env of the machine it ran on.
//
// A Config is a Server running an evict policy, named by ConfigName: the
// built-in server's rows spell out the policy as evict.Parse reads it
// ("builtin window:8" is nbdkit's ring, faithfully; nbdserve's cache=none,
// evict.CacheNone, is "builtin window:8,drain,read=fresh"), and nbdkit's are
// "nbdkit cache=default" and "nbdkit cache=none" (its ring of
// evict.NbdkitWindows). Sweeps stored before the policies were typed
// spelled nbdkit's policies cache=default and cache=none; Load maps them.
//
// A sweep lives in a directory of its own, by default under runs/local/ of
// the repository (ignored by git; chosen sweeps are committed as runs/NAME):
//
//	sweep.json      the environment, settings and configurations, written
//	                first (marked partial), then every sample (Save, Load);
//	                its layout is schema/sweep.schema.json (schema_version)
//	samples.jsonl   one Sample per line, appended as each run ends (Store),
//	                so an interrupted sweep keeps what it measured
//	bench.txt       the Go benchmark format with unit metadata, written
//	                with x/perf/benchfmt, read by benchstat as by wbench
//	samples.csv     one row per sample
//	summary.md      the table, the recommendation, the plots
//	*.png, *.svg    the plots (WritePlots)
//
// The statistics are benchstat's (golang.org/x/perf/benchmath with
// AssumeNothing): medians, never means, with distribution-free 95%
// confidence intervals (from MinSamplesCI samples on), and the two-sided
// Mann-Whitney U test (significant from MinSamplesU samples a side).
// Recommend picks the smallest window count whose throughput is not
// significantly below the best's (or within the tolerance), and says when
// the window count makes no measurable difference. Compare judges two
// sweeps per configuration and metric with the U test and a per-metric
// threshold, so that a difference inside the noise is reported as "~" and
// only a significant change beyond its threshold counts as a regression;
// it first lists every difference of workload and machine (Differences)
// and CheckWorkload refuses sweeps of different workloads. A Fleet puts
// the recommendations of several sweeps (machines, scenarios) side by side.
package results
