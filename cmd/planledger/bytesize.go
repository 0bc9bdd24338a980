package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseBytes reads a size such as 256MiB, 1GiB, 500KiB or 1048576 (bytes);
// "off" (or a negative number) is -1.
func parseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return -1, nil
	}
	units := []struct {
		suffix string
		factor int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}
	factor := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, factor = strings.TrimSpace(rest), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: want bytes, or a number with KiB, MiB or GiB (256MiB), or off", s)
	}
	if n < 0 {
		return -1, nil
	}
	return n * factor, nil
}
