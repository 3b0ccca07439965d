package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Source says where Load reads settings from.
type Source struct {
	// File is the TOML settings file, normally HOME/config/consort.toml.
	// A file that does not exist, or "", means the built-in settings: the
	// defaults and the built-in profile tables.
	File string
	// Profile is the profile chosen on the command line (--profile); ""
	// leaves the choice to CONSORT_PROFILE, then to DefaultProfile.
	Profile string
	// DefaultProfile is the profile used when neither Profile nor
	// CONSORT_PROFILE names one; "" means none.
	DefaultProfile string
	// Getenv reads the environment. Default (nil): os.Getenv.
	Getenv func(key string) string
}

// document is a settings file: its base values and its profile tables,
// keyed by flat setting keys ("log.level").
type document struct {
	name     string // for messages: the file, or "the built-in settings"
	builtin  bool
	base     map[string]any
	profiles map[string]map[string]any
}

// Load reads the settings: defaults, then src.File's base values, then its
// table for the selected profile, then the environment. It does not
// validate them: apply command-line flags with Set, then call Validate.
// Every error names the key and says where the value came from.
func Load(src Source) (Config, error) {
	getenv := src.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg := DefaultConfig()
	doc, err := readDocument(src.File)
	if err != nil {
		return cfg, err
	}

	profile, origin := src.Profile, "--profile"
	if profile == "" {
		profile, origin = getenv(EnvProfile), EnvProfile
	}
	if profile == "" {
		profile, origin = src.DefaultProfile, ""
	}
	cfg.Profile = profile
	cfg.setOrigin("profile", origin)
	if err := cfg.checkProfile(); err != nil {
		return cfg, err
	}

	errs := cfg.apply(doc.base, doc.name)
	if profile != "" {
		where := fmt.Sprintf("%s [profile.%s]", doc.name, profile)
		if doc.builtin {
			where = fmt.Sprintf("the built-in %s profile", profile)
		}
		errs = append(errs, cfg.apply(doc.profiles[profile], where)...)
	}
	for _, f := range fields() {
		for _, name := range f.env {
			if v := getenv(name); v != "" {
				if err := cfg.setText(f, v, name); err != nil {
					errs = append(errs, err)
				}
				break
			}
		}
	}
	return cfg, errors.Join(errs...)
}

// Set sets the setting key from text, as a command-line flag gives it, and
// records origin (e.g. "--log-level") for messages. Text is parsed as the
// setting's type: "true", "2.5", "2s".
func (c *Config) Set(key, text, origin string) error {
	f, ok := lookupField(key)
	if !ok {
		return fmt.Errorf("config: %s: unknown key", key)
	}
	return c.setText(f, text, origin)
}

// readDocument reads a settings file, or returns the built-in settings
// when there is none.
func readDocument(file string) (document, error) {
	builtin := document{name: "the built-in settings", builtin: true, base: map[string]any{}, profiles: defaultProfiles()}
	if file == "" {
		return builtin, nil
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return builtin, nil
	}
	if err != nil {
		return document{}, fmt.Errorf("config: read %s: %w", file, err)
	}
	return parseDocument(file, data)
}

// parseDocument decodes a settings file strictly: an unknown key, a secret
// or a profile other than the three is an error naming the key.
func parseDocument(name string, data []byte) (document, error) {
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		var derr *toml.DecodeError
		if errors.As(err, &derr) {
			// Error, not String: the latter quotes the line, which may
			// hold a secret.
			row, col := derr.Position()
			return document{}, fmt.Errorf("config: %s: line %d, column %d: %s", name, row, col, derr.Error())
		}
		return document{}, fmt.Errorf("config: %s: %w", name, err)
	}
	doc := document{name: name, base: map[string]any{}, profiles: map[string]map[string]any{}}
	var errs []error
	for _, k := range sortedKeys(raw) {
		if k != "profile" {
			errs = append(errs, flatten(name, "", k, raw[k], doc.base)...)
			continue
		}
		tables, ok := raw[k].(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("config: profile: set in %s, but the profile is chosen with --profile or %s; the file holds profile tables [profile.%s], [profile.%s] and [profile.%s]",
				name, EnvProfile, ProfileLocal, ProfileTestnet, ProfileMainnet))
			continue
		}
		for _, p := range sortedKeys(tables) {
			if !isProfile(p) {
				errs = append(errs, fmt.Errorf("config: profile.%s: unknown profile in %s: want %s, %s or %s", p, name, ProfileLocal, ProfileTestnet, ProfileMainnet))
				continue
			}
			table, ok := tables[p].(map[string]any)
			if !ok {
				errs = append(errs, fmt.Errorf("config: profile.%s: want a table of settings in %s", p, name))
				continue
			}
			layer := map[string]any{}
			for _, k := range sortedKeys(table) {
				errs = append(errs, flatten(name, "profile."+p+".", k, table[k], layer)...)
			}
			doc.profiles[p] = layer
		}
	}
	return doc, errors.Join(errs...)
}

// flatten adds the settings under key (a leaf or a table) to layer, keyed
// "section.name", and reports keys that are not settings. show is the
// prefix messages put before a key ("profile.mainnet.").
func flatten(file, show, key string, v any, layer map[string]any) []error {
	if table, ok := v.(map[string]any); ok {
		var errs []error
		for _, k := range sortedKeys(table) {
			errs = append(errs, flatten(file, show, key+"."+k, table[k], layer)...)
		}
		return errs
	}
	f, ok := lookupField(key)
	if hint, secret := secretKeys()[key]; secret {
		return []error{fmt.Errorf("config: %s%s: secrets are refused in %s: %s", show, key, file, hint)}
	}
	if !ok || f.secret {
		msg := fmt.Sprintf("config: %s%s: unknown key in %s", show, key, file)
		if near := nearestKey(key); near != "" {
			msg += "; did you mean " + show + near + "?"
		}
		return []error{errors.New(msg)}
	}
	layer[key] = v
	return nil
}

// apply sets the values of layer, in key order, recording origin.
func (c *Config) apply(layer map[string]any, origin string) []error {
	var errs []error
	for _, k := range sortedKeys(layer) {
		f, _ := lookupField(k) // flatten let known keys only in
		if err := c.setValue(f, layer[k], origin); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// setText parses text as f's type and sets it.
func (c *Config) setText(f field, text, origin string) error {
	var v any = text
	switch f.ptr(c).(type) {
	case *bool:
		b, err := strconv.ParseBool(text)
		if err != nil {
			return c.typeError(f, text, origin)
		}
		v = b
	case *float64:
		n, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return c.typeError(f, text, origin)
		}
		v = n
	case *int64:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return c.typeError(f, text, origin)
		}
		v = n
	}
	return c.setValue(f, v, origin)
}

// setValue sets f to v as TOML decodes it: string, bool, int64 or float64;
// an *int64 setting takes int64 only;
// a duration is a string such as "2s".
func (c *Config) setValue(f field, v any, origin string) error {
	ok := true
	switch p := f.ptr(c).(type) {
	case *string:
		var s string
		if s, ok = v.(string); ok {
			*p = s
		}
	case *bool:
		var b bool
		if b, ok = v.(bool); ok {
			*p = b
		}
	case *float64:
		switch n := v.(type) {
		case int64:
			*p = float64(n)
		case float64:
			*p = n
		default:
			ok = false
		}
	case *int64:
		var n int64
		if n, ok = v.(int64); ok {
			*p = n
		}
	case *time.Duration:
		var s string
		if s, ok = v.(string); ok {
			d, err := time.ParseDuration(s)
			if ok = err == nil; ok {
				*p = d
			}
		}
	default:
		panic(fmt.Sprintf("settings: field %s has no known type", f.key))
	}
	if !ok {
		return c.typeError(f, v, origin)
	}
	c.setOrigin(f.key, origin)
	return nil
}

// typeError reports a value of the wrong type for f.
func (c *Config) typeError(f field, v any, origin string) error {
	want := "a string"
	switch f.ptr(c).(type) {
	case *bool:
		want = "true or false"
	case *float64:
		want = "a number"
	case *int64:
		want = "a whole number"
	case *time.Duration:
		want = `a duration such as "2s"`
	}
	shown := " " + formatValue(v)
	if f.secret {
		shown = ""
	}
	return fmt.Errorf("config: %s%s: want %s%s", f.key, shown, want, fromSuffix(origin))
}

// checkProfile reports a profile name other than the three.
func (c Config) checkProfile() error {
	if c.Profile == "" || isProfile(c.Profile) {
		return nil
	}
	return fmt.Errorf("config: profile %q: want %s, %s or %s%s", c.Profile, ProfileLocal, ProfileTestnet, ProfileMainnet, fromSuffix(c.Origin("profile")))
}

func isProfile(p string) bool {
	return p == ProfileLocal || p == ProfileTestnet || p == ProfileMainnet
}

// nearestKey returns the setting whose key is closest to key, if it is
// close enough to be a typo.
func nearestKey(key string) string {
	best, bestDist := "", 3
	for _, f := range fields() {
		if f.secret {
			continue
		}
		if d := editDistance(key, f.key); d < bestDist {
			best, bestDist = f.key, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// formatValue shows a value as it would be written in the file.
func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case time.Duration:
		return strconv.Quote(v.String())
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// fromSuffix is the " (from ORIGIN)" that ends a message about a value
// that is not a default.
func fromSuffix(origin string) string {
	if origin == "" {
		return ""
	}
	return " (from " + origin + ")"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
