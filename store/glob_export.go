package store

// GlobMatch reports whether str matches the Redis glob pattern (as KEYS and
// SCAN MATCH use it); the front end uses it for CONFIG GET.
func GlobMatch(pattern, str string) bool { return globMatch(pattern, str) }
