// Package cli is cachestats: it reports how much of each file is in the
// Linux page cache.
//
// Usage:
//
//	cachestats [flags] FILE...
//
// For one file it prints the line of nocache's cachestats:
//
//	pages in cache: 409/1572864 (0.0%)  [filesize=6291456.0K, pagesize=4K]
//
// For several files, or a directory with -r, each line starts with the
// file's name and a total line follows. A name is printed as fincore
// prints it: control characters, characters that do not print and bytes
// that are not UTF-8 as \xHH, a backslash as \\, so that no name can forge
// a line. Each file is printed as soon as it is measured and only the
// totals are kept, so memory does not grow with the number of files. -x appends the counts only
// cachestat(2) gives (dirty, writeback, evicted, recently evicted pages),
// -v draws a map of the cache (32 pages a row, x for resident), --json
// prints one JSON document with an object per file and the total. -q prints
// nothing and exits 0 only when every file is entirely in the cache.
//
// --watch INTERVAL samples again every INTERVAL, each line or JSON document
// stamped with the time, for --count samples or --for a duration or until
// interrupted. Files that do not exist yet are waited for.
//
// Exit status: 0 success, 1 when a file could not be measured (the message
// "cachestats: PATH: reason" goes to stderr and the other files are still
// reported) or, with -q, is not entirely cached, 2 for usage errors.
//
// Run holds the logic; the command's main only wires it to the process.
package cli
