package manifests

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// instruction is one Dockerfile instruction: its keyword in upper case, its
// flags (--from=build) and its arguments as BuildKit's parser splits them.
type instruction struct {
	cmd   string
	flags []string
	args  []string
	json  bool // exec form: ["a", "b"]
	line  int
}

// stage is a FROM and the instructions up to the next FROM.
type stage struct {
	from  instruction
	name  string // after AS, lower case; "" if none
	instr []instruction
}

// all returns the stage's instructions of keyword cmd.
func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instr {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// last returns the stage's last instruction of keyword cmd, or nil.
func (s stage) last(cmd string) *instruction {
	all := s.all(cmd)
	if len(all) == 0 {
		return nil
	}
	return &all[len(all)-1]
}

// parseDockerfile parses the repository's Dockerfile with BuildKit's own
// parser (the one `docker build` uses) and splits it into stages.
func parseDockerfile(t *testing.T) []stage {
	t.Helper()
	res, err := parser.Parse(bytes.NewReader(readRepoFile(t, "Dockerfile")))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile line %d: %s", w.Location.Start.Line, w.Short)
	}
	var stages []stage
	for _, n := range res.AST.Children {
		in := instruction{cmd: strings.ToUpper(n.Value), flags: n.Flags, json: n.Attributes["json"], line: n.StartLine}
		for a := n.Next; a != nil; a = a.Next {
			in.args = append(in.args, a.Value)
		}
		if in.cmd == "FROM" {
			s := stage{from: in}
			if len(in.args) == 3 && strings.EqualFold(in.args[1], "AS") {
				s.name = strings.ToLower(in.args[2])
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("Dockerfile line %d: %s before the first FROM", in.line, in.cmd)
			}
			continue
		}
		stages[len(stages)-1].instr = append(stages[len(stages)-1].instr, in)
	}
	return stages
}

// dockerfileUID is the uid of the Dockerfile's final USER.
func dockerfileUID(t *testing.T) string {
	t.Helper()
	stages := parseDockerfile(t)
	user := stages[len(stages)-1].last("USER")
	if user == nil {
		t.Fatal("Dockerfile: no USER in the final stage")
	}
	uid, _, _ := strings.Cut(user.args[0], ":")
	return uid
}

// keyValues returns the NAME=value pairs of an ENV, ARG or LABEL.
func keyValues(in instruction) map[string]string {
	kv := map[string]string{}
	if in.cmd == "ARG" {
		for _, a := range in.args {
			k, v, _ := strings.Cut(a, "=")
			kv[k] = v
		}
		return kv
	}
	// ENV and LABEL come as triples: name, value, "=".
	for i := 0; i+1 < len(in.args); i += 3 {
		kv[in.args[i]] = in.args[i+1]
	}
	return kv
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("got %d stages, want a multi-stage build (builder + runtime)", len(stages))
	}
	builder, final := stages[0], stages[len(stages)-1]

	t.Run("builder", func(t *testing.T) {
		if image := builder.from.args[0]; !strings.HasPrefix(image, "golang:1.26") {
			t.Errorf("builder image %q, want golang:1.26 (go.mod's Go)", image)
		}
		if builder.name == "" {
			t.Fatal("builder stage has no name (FROM ... AS build)")
		}
		var build string
		for _, run := range builder.all("RUN") {
			if cmd := strings.Join(run.args, " "); strings.Contains(cmd, "go build") {
				build = cmd
			}
		}
		if build == "" {
			t.Fatal("builder: no RUN go build")
		}
		cgoOff := strings.Contains(build, "CGO_ENABLED=0")
		for _, env := range builder.all("ENV") {
			cgoOff = cgoOff || keyValues(env)["CGO_ENABLED"] == "0"
		}
		if !cgoOff {
			t.Error("go build without CGO_ENABLED=0: the binary would not be static")
		}
		if !strings.Contains(build, "./cmd/consort") {
			t.Errorf("go build %q does not build ./cmd/consort", build)
		}
	})

	t.Run("runtime", func(t *testing.T) {
		if image := final.from.args[0]; strings.HasPrefix(image, "golang") {
			t.Errorf("final image %q is the Go toolchain; want a small runtime image", image)
		}
		copied := false
		for _, cp := range final.all("COPY") {
			if slices.Contains(cp.flags, "--from="+builder.name) && slices.Contains(cp.args, "/usr/local/bin/consort") {
				copied = true
			}
		}
		if !copied {
			t.Errorf("final stage does not COPY --from=%s the binary to /usr/local/bin/consort", builder.name)
		}
	})

	t.Run("non-root user", func(t *testing.T) {
		user := final.last("USER")
		if user == nil {
			t.Fatal("final stage has no USER: the node would run as root")
		}
		name, group, _ := strings.Cut(user.args[0], ":")
		if name == "root" || name == "0" || group == "root" || group == "0" {
			t.Errorf("USER %s: want a non-root user and group", user.args[0])
		}
		if !regexp.MustCompile(`^\d+$`).MatchString(name) {
			t.Errorf("USER %s: use a numeric uid so Kubernetes runAsNonRoot can verify it", user.args[0])
		}
		for _, in := range final.instr {
			if in.line > user.line && in.cmd == "RUN" {
				t.Errorf("line %d: RUN after USER runs as the node user; put it before USER", in.line)
			}
		}
	})

	t.Run("ports, volume, healthcheck, command", func(t *testing.T) {
		var exposed []string
		for _, e := range final.all("EXPOSE") {
			exposed = append(exposed, e.args...)
		}
		for _, p := range []string{"26656", "26657", "26660"} {
			if !slices.Contains(exposed, p) && !slices.Contains(exposed, p+"/tcp") {
				t.Errorf("EXPOSE lacks %s (got %v)", p, exposed)
			}
		}
		vol := final.last("VOLUME")
		if vol == nil || !slices.Contains(vol.args, "/data") {
			t.Error("VOLUME /data (the node home) missing")
		}
		hc := final.last("HEALTHCHECK")
		if hc == nil {
			t.Fatal("no HEALTHCHECK")
		}
		check := strings.Join(hc.args, " ")
		if len(hc.args) == 0 || hc.args[0] != "CMD" || !strings.Contains(check, ":26660/healthz") {
			t.Errorf("HEALTHCHECK %q: want CMD ... :26660/healthz", check)
		}
		if strings.Contains(check, "curl") && strings.Contains(final.from.args[0], "distroless") {
			t.Error("HEALTHCHECK uses curl, which distroless does not have")
		}
		ep := final.last("ENTRYPOINT")
		if ep == nil || !ep.json || !slices.Equal(ep.args, []string{"consort"}) {
			t.Errorf("ENTRYPOINT: want exec form [\"consort\"], got %+v", ep)
		}
		cmd := final.last("CMD")
		if cmd == nil || !cmd.json || !slices.Equal(cmd.args, []string{"start", "--home", "/data"}) {
			t.Errorf("CMD: want [\"start\", \"--home\", \"/data\"], got %+v", cmd)
		}
	})

	t.Run("no secrets", func(t *testing.T) {
		for _, s := range stages {
			for _, in := range s.instr {
				if in.cmd != "ENV" && in.cmd != "ARG" {
					continue
				}
				for k, v := range keyValues(in) {
					if credentialName.MatchString(k) && v != "" {
						t.Errorf("line %d: %s %s has a value baked into the image", in.line, in.cmd, k)
					}
				}
			}
			for _, cp := range s.all("COPY") {
				for _, a := range cp.args {
					if strings.Contains(a, "key") || strings.Contains(a, "testnet") {
						t.Errorf("line %d: COPY %s brings key material into the image", cp.line, a)
					}
				}
			}
		}
		if loc := secretLooking.FindIndex(readRepoFile(t, "Dockerfile")); loc != nil {
			t.Error("Dockerfile holds key material")
		}
	})
}

// TestDockerignore matches .dockerignore as the Docker client does: the build
// needs every Go source of the main module, and no node home, key or
// repository metadata may enter the build context.
func TestDockerignore(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	excluded := func(rel string) bool {
		t.Helper()
		ok, err := pm.MatchesOrParentMatches(rel)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	for _, rel := range []string{
		".git/config", "bin/consort", ".env",
		"testnet/node0/config/priv_validator_key.json", "testnet/node3/config/node_key.json",
		"testnet/node1/keyring/alice.json", "tools/manifests/go.mod",
	} {
		if !excluded(rel) {
			t.Errorf("%s would be sent to the build context", rel)
		}
	}

	needed := []string{"go.mod", "go.sum"}
	root, _ := filepath.Abs(repoRoot)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			// Nested modules (tools/...) and hidden folders are not the binary's.
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || fileExists(filepath.Join(path, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") {
			needed = append(needed, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(needed, "cmd/consort/main.go") {
		t.Fatalf("walked %s but found no cmd/consort/main.go", root)
	}
	for _, rel := range needed {
		if excluded(rel) {
			t.Errorf("%s is excluded from the build context, but go build ./cmd/consort may need it", rel)
		}
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
