package settings

import (
	"bufio"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// templateFile is the documented app configuration at the repository root.
const templateFile = "../config.toml"

// TestTemplateMatchesDefaults keeps the documentation from drifting: the
// root config.toml must say exactly what the built-in settings do, for the
// base values and for every profile.
func TestTemplateMatchesDefaults(t *testing.T) {
	data, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseDocument(templateFile, data)
	if err != nil {
		t.Fatalf("the template does not load: %v", err)
	}
	if !reflect.DeepEqual(doc.profiles, defaultProfiles()) {
		t.Errorf("template profile tables %v, want the built-in %v", doc.profiles, defaultProfiles())
	}
	for _, profile := range []string{"", ProfileLocal, ProfileTestnet, ProfileMainnet} {
		fromFile, err := Load(Source{File: templateFile, Profile: profile, Getenv: env(nil)})
		if err != nil {
			t.Fatalf("profile %q: %v", profile, err)
		}
		builtin, err := Load(Source{Profile: profile, Getenv: env(nil)})
		if err != nil {
			t.Fatalf("profile %q: %v", profile, err)
		}
		if !reflect.DeepEqual(values(fromFile), values(builtin)) {
			t.Errorf("profile %q: template gives %+v\nbuilt-in gives %+v", profile, values(fromFile), values(builtin))
		}
		if profile == "" && !reflect.DeepEqual(values(fromFile), DefaultConfig()) {
			t.Errorf("template base %+v, want DefaultConfig %+v", values(fromFile), DefaultConfig())
		}
	}
}

// TestTemplateDocumentsEverySetting checks that every setting is written
// out in the template's base tables, under a comment that states its
// default and names its environment variables.
func TestTemplateDocumentsEverySetting(t *testing.T) {
	f, err := os.Open(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	table := regexp.MustCompile(`^\[([a-z_.]+)\]\s*$`)
	assign := regexp.MustCompile(`^([a-z_.]+)\s*=`)
	documented := map[string]string{} // key → comment block above it
	var section string
	var comment []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			comment = append(comment, line)
			continue
		case table.MatchString(line):
			section = table.FindStringSubmatch(line)[1]
		case assign.MatchString(line) && !strings.HasPrefix(section, "profile."):
			documented[section+"."+assign.FindStringSubmatch(line)[1]] = strings.Join(comment, "\n")
		}
		comment = nil
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range fields() {
		if fl.secret {
			for _, name := range fl.env {
				if !strings.Contains(string(text), name) {
					t.Errorf("%s: the template does not name %s", fl.key, name)
				}
			}
			continue
		}
		doc, ok := documented[fl.key]
		if !ok {
			t.Errorf("%s: not written out in the template's base tables", fl.key)
			continue
		}
		if !strings.Contains(doc, "Default") {
			t.Errorf("%s: its comment states no default:\n%s", fl.key, doc)
		}
		for _, name := range fl.env {
			if !strings.Contains(doc, name) {
				t.Errorf("%s: its comment does not name %s:\n%s", fl.key, name, doc)
			}
		}
	}
	if !strings.Contains(string(text), EnvProfile) {
		t.Errorf("the template does not name %s", EnvProfile)
	}
}
