// Package version says which build of the suite a command is: the
// module's version and the VCS revision the go command stamped into the
// binary (runtime/debug.ReadBuildInfo). Every command's --version prints it.
package version

import (
	"runtime/debug"
	"strings"
)

// String is the --version text of the command called name, one line.
func String(name string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return name + ": no build information in this binary\n"
	}
	return format(name, bi)
}

func format(name string, bi *debug.BuildInfo) string {
	var b strings.Builder
	b.WriteString(name)
	if bi.Main.Path != "" {
		b.WriteString(" " + bi.Main.Path)
	}
	if bi.Main.Version != "" {
		b.WriteString(" " + bi.Main.Version)
	}
	s := map[string]string{}
	for _, kv := range bi.Settings {
		s[kv.Key] = kv.Value
	}
	if rev := s["vcs.revision"]; rev != "" {
		b.WriteString(", " + s["vcs"] + " revision " + rev)
		if s["vcs.modified"] == "true" {
			b.WriteString(" (modified)")
		}
		if t := s["vcs.time"]; t != "" {
			b.WriteString(" of " + t)
		}
	} else {
		b.WriteString(", no VCS revision stamped (go run, go test, -buildvcs=false, or not built in a git checkout)")
	}
	b.WriteString(", " + bi.GoVersion + "\n")
	return b.String()
}
