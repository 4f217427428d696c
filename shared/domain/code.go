package domain

// IsCodeToken reports whether s has the shape of a collection code token (C1):
// 22-64 URL-safe characters (>= 128 random bits). Anything else names no code
// and is refused before any lookup.
func IsCodeToken(s string) bool { return IsURLSafe(s, 22, 64) }
