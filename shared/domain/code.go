package domain

import "regexp"

var codeTokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{22,64}$`)

// IsCodeToken reports whether s has the shape of a collection code token (C1):
// 22-64 URL-safe characters (>= 128 random bits). Anything else names no code
// and is refused before any lookup.
func IsCodeToken(s string) bool { return codeTokenRE.MatchString(s) }
