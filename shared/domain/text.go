package domain

// Shape checks of identifiers and short inputs. They are loops, not
// package-level regexps: compiling counted repetitions such as {22,64} at
// package initialisation cost every cold start of every function.

// IsURLSafe reports whether s is min to max characters of the URL-safe
// alphabet A-Z a-z 0-9 _ - (code tokens, idempotency keys, openids).
func IsURLSafe(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// IsFieldKey reports whether s is a payer field key: a lowercase letter, then
// up to 31 lowercase letters, digits or underscores.
func IsFieldKey(s string) bool {
	if len(s) < 1 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

// IsDigits reports whether s is min to max ASCII digits.
func IsDigits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// isPhone: an optional leading + and 5 to 20 digits.
func isPhone(s string) bool {
	if len(s) > 0 && s[0] == '+' {
		s = s[1:]
	}
	return IsDigits(s, 5, 20)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlnum(c byte) bool { return isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

// IsPrintable reports whether s is valid UTF-8 without control or format
// characters (newlines, tabs, bidi overrides, zero-width characters): names
// and labels people type into the console.
func IsPrintable(s string) bool { return printable(s) }
