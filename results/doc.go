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
//	sweep.json      every sample and the environment (Save, Load)
//	bench.txt       the Go benchmark format, readable by benchstat
//	samples.csv     one row per sample
//	summary.md      the table, the recommendation, the plots
//	*.png, *.svg    the plots (WritePlots)
//
// Summaries use medians with min-max ranges, never means: durations of I/O
// runs have long right tails. Compare judges two sweeps per configuration
// and metric with a two-sided Mann-Whitney U test over the repeated samples
// and a per-metric threshold, so that a difference inside the noise is
// reported as "~" and only a significant change beyond its threshold counts
// as a regression. With fewer than four samples on each side no difference
// can be significant at alpha 0.05; Compare says so instead of guessing.
package results
