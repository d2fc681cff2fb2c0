// Prints the cases of tests/unit/test_json_out.c: each input string and
// the bytes Go's encoding/json (json.Marshal, HTML-safe) writes for it, as
// C string literals. Run: go run tests/data/json-escapes/gen.go
package main

import (
	"encoding/json"
	"fmt"
	"runtime"
)

// C string literal: printable ASCII as is, the rest in three-digit octal
// (a hex escape would swallow a following hex digit).
func c(s string) string {
	out := []byte{'"'}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b == '"' || b == '\\':
			out = append(out, '\\', b)
		case b >= 0x20 && b < 0x7f:
			out = append(out, b)
		default:
			out = append(out, []byte(fmt.Sprintf("\\%03o", b))...)
		}
	}
	return string(append(out, '"'))
}

func main() {
	var in []string
	for b := 1; b < 0x20; b++ { // NUL ends a C string: not a case
		in = append(in, string([]byte{byte(b)}))
	}
	in = append(in,
		"<", ">", "&", "\"", "\\", "\x7f", "/", "plain text",
		"\u2028", "\u2029", "a\u2028b\u2029c", "\u2027\u202a",
		"é€😀", // valid UTF-8 stays as it is
		"\x80", "\xff", "a\xffb", "\xc0\xaf", "\xc1\xbf", // stray, overlong
		"\xe0\x80\xaf", "\xed\xa0\x80", "\xed\x9f\xbf", // overlong, surrogate, last below
		"\xf0\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80", // overlong, max, above
		"\xe2\x82", "\xe2\x82x", "\xf0\x9f\x98", "\xf5\x80\x80\x80",
		"<script>\n\t&\r</script>")
	fmt.Printf("/* %s */\n", runtime.Version())
	for _, s := range in {
		j, err := json.Marshal(s)
		if err != nil {
			panic(err)
		}
		fmt.Printf("\t{ %s, %s },\n", c(s), c(string(j)))
	}
}
