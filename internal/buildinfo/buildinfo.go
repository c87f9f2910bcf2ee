// Package buildinfo tells which build of rkv is running, from what the Go
// toolchain records in the binary (runtime/debug build information): the
// module version of a tagged build, else the VCS revision it was built
// from, marked -dirty when the tree had changes.
package buildinfo

import (
	"runtime/debug"
	"sync"
)

// Version is the running binary's version: the module version when it was
// built as a tagged module ("v1.2.3"), else "devel-<revision>[-dirty]",
// else "devel" when the build recorded neither.
var Version = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return versionOf(info)
})

// Revision is the VCS revision the binary was built from, "" if unknown.
var Revision = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	return setting(info, "vcs.revision")
})

func versionOf(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev := setting(info, "vcs.revision")
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if setting(info, "vcs.modified") == "true" {
		rev += "-dirty"
	}
	return "devel-" + rev
}

func setting(info *debug.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}
