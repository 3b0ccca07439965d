package app

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in       string
		decimals uint32
		want     uint64
		wantErr  string // substring of the error; "" = success
	}{
		// decimals 2
		{"100.00", 2, 10000, ""},
		{"100.5", 2, 10050, ""},
		{"5", 2, 500, ""},
		{"0.01", 2, 1, ""},
		{"0", 2, 0, ""},
		{"007.10", 2, 710, ""},
		{".5", 2, 0, "want digits"},
		{"5.", 2, 0, "want digits"},
		{"", 2, 0, "want digits"},
		{".", 2, 0, "want digits"},
		{"1.234", 2, 0, "at most 2 decimal places"},
		{"-1", 2, 0, "negative"},
		{"-0.01", 2, 0, "negative"},
		{"+1", 2, 0, "want digits"},
		{"1e3", 2, 0, "want digits"},
		{" 1", 2, 0, "want digits"},
		{"1 ", 2, 0, "want digits"},
		{"1,000.00", 2, 0, "want digits"},
		{"1_000", 2, 0, "want digits"},
		{"0x10", 2, 0, "want digits"},
		{"1.2.3", 2, 0, "at most 2 decimal places"},
		{"1.2.", 2, 0, "want digits"},
		{"١", 2, 0, "want digits"}, // Arabic-Indic digit one
		{"184467440737095516.15", 2, math.MaxUint64, ""},
		{"184467440737095516.16", 2, 0, "too large"},
		{"184467440737095517", 2, 0, "too large"},
		{"000000000000000000000000184467440737095516.15", 2, math.MaxUint64, ""},

		// decimals 0
		{"5", 0, 5, ""},
		{"0", 0, 0, ""},
		{"5.", 0, 0, "want digits"},
		{"5.0", 0, 0, "at most 0 decimal places"},
		{"18446744073709551615", 0, math.MaxUint64, ""},
		{"18446744073709551616", 0, 0, "too large"},
		{"99999999999999999999", 0, 0, "too large"},
		{"100000000000000000000", 0, 0, "too large"},

		// decimals 18
		{"1", 18, 1_000_000_000_000_000_000, ""},
		{"0.000000000000000001", 18, 1, ""},
		{"0.0000000000000000001", 18, 0, "at most 18 decimal places"},
		{"18.446744073709551615", 18, math.MaxUint64, ""},
		{"18.446744073709551616", 18, 0, "too large"},
		{"19", 18, 0, "too large"},
		{"1e3", 18, 0, "want digits"},

		// decimals above the maximum
		{"1", 19, 0, "at most 18 supported"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q/decimals=%d", tc.in, tc.decimals), func(t *testing.T) {
			got, err := ParseAmount(tc.in, tc.decimals)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Fatalf("ParseAmount(%q, %d): got %d, %v; want %d, nil", tc.in, tc.decimals, got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseAmount(%q, %d): got %d, %v; want an error containing %q", tc.in, tc.decimals, got, err, tc.wantErr)
			}
			if got != 0 {
				t.Errorf("ParseAmount(%q, %d) with error: got %d, want 0", tc.in, tc.decimals, got)
			}
		})
	}
}

func TestFormatAmount(t *testing.T) {
	tests := []struct {
		v        uint64
		decimals uint32
		want     string
	}{
		{0, 0, "0"},
		{5, 0, "5"},
		{math.MaxUint64, 0, "18446744073709551615"},
		{0, 2, "0.00"},
		{5, 2, "0.05"},
		{50, 2, "0.50"},
		{10000, 2, "100.00"},
		{10050, 2, "100.50"},
		{math.MaxUint64, 2, "184467440737095516.15"},
		{1, 18, "0.000000000000000001"},
		{1_000_000_000_000_000_000, 18, "1.000000000000000000"},
		{math.MaxUint64, 18, "18.446744073709551615"},
	}
	for _, tc := range tests {
		if got := FormatAmount(tc.v, tc.decimals); got != tc.want {
			t.Errorf("FormatAmount(%d, %d): got %q, want %q", tc.v, tc.decimals, got, tc.want)
		}
	}
}

func TestAmountRoundTrip(t *testing.T) {
	values := []uint64{0, 1, 9, 10, 99, 100, 101, 12345, 1 << 32, 1<<53 + 1, math.MaxUint64 / 10, math.MaxUint64 - 1, math.MaxUint64}
	for _, d := range []uint32{0, 1, 2, 6, 8, 17, 18} {
		for _, v := range values {
			s := FormatAmount(v, d)
			got, err := ParseAmount(s, d)
			if err != nil || got != v {
				t.Errorf("ParseAmount(FormatAmount(%d, %d) = %q): got %d, %v; want %d", v, d, s, got, err, v)
			}
		}
	}
}
