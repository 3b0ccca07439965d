package manifests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// k8sObjects are the documents of scripts/k8s, decoded.
type k8sObjects struct {
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	configMaps   []*corev1.ConfigMap
	pdbs         []*policyv1.PodDisruptionBudget
	// raw holds each document's text, keyed "file#index", for text scans.
	raw map[string][]byte
}

// k8sKinds are the only objects scripts/k8s may hold. Secrets are not among
// them: key material is created out of band and only referenced by name.
var k8sKinds = map[string]string{
	"StatefulSet":         "apps/v1",
	"Service":             "v1",
	"ConfigMap":           "v1",
	"PodDisruptionBudget": "policy/v1",
}

// loadK8s decodes every document of scripts/k8s/*.yaml strictly: unknown,
// duplicate or wrongly-cased fields are errors, as kubectl --validate=strict
// would report them.
func loadK8s(t *testing.T) *k8sObjects {
	t.Helper()
	dir := filepath.Join(repoRoot, "scripts", "k8s")
	if yml, _ := filepath.Glob(filepath.Join(dir, "*.yml")); len(yml) > 0 {
		t.Fatalf("%v: name Kubernetes manifests *.yaml so this test checks them", yml)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (err %v)", dir, err)
	}
	objs := &k8sObjects{raw: map[string][]byte{}}
	for _, file := range files {
		docs := splitYAML(t, file)
		for i, doc := range docs {
			where := fmt.Sprintf("%s#%d", filepath.Base(file), i)
			objs.raw[where] = doc
			objs.decode(t, where, doc)
		}
	}
	return objs
}

// splitYAML returns the non-empty documents of a multi-document YAML file.
func splitYAML(t *testing.T, file string) [][]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if !yamlIsEmpty(doc) {
			docs = append(docs, doc)
		}
	}
}

// yamlIsEmpty says whether doc has only comments and blank lines.
func yamlIsEmpty(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && line != "---" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

func (o *k8sObjects) decode(t *testing.T, where string, doc []byte) {
	t.Helper()
	data, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if head.Kind == "Secret" {
		t.Fatalf("%s: a Secret in the manifests; keys are created out of band and referenced by secretName only", where)
	}
	want, ok := k8sKinds[head.Kind]
	if !ok {
		t.Fatalf("%s: kind %q; want one of StatefulSet, Service, ConfigMap, PodDisruptionBudget (extend k8sKinds and its checks)", where, head.Kind)
	}
	if head.APIVersion != want {
		t.Fatalf("%s: %s has apiVersion %q, want %q", where, head.Kind, head.APIVersion, want)
	}
	var target any
	switch head.Kind {
	case "StatefulSet":
		v := &appsv1.StatefulSet{}
		o.statefulSets, target = append(o.statefulSets, v), v
	case "Service":
		v := &corev1.Service{}
		o.services, target = append(o.services, v), v
	case "ConfigMap":
		v := &corev1.ConfigMap{}
		o.configMaps, target = append(o.configMaps, v), v
	case "PodDisruptionBudget":
		v := &policyv1.PodDisruptionBudget{}
		o.pdbs, target = append(o.pdbs, v), v
	}
	strict, err := sigsjson.UnmarshalStrict(data, target, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	if err != nil {
		t.Fatalf("%s: decode %s: %v", where, head.Kind, err)
	}
	if len(strict) > 0 {
		t.Fatalf("%s: %s does not match the API: %v", where, head.Kind, errors.Join(strict...))
	}
}

// validatorSet returns the one StatefulSet of the manifests.
func (o *k8sObjects) validatorSet(t *testing.T) *appsv1.StatefulSet {
	t.Helper()
	if len(o.statefulSets) != 1 {
		t.Fatalf("got %d StatefulSets, want 1", len(o.statefulSets))
	}
	return o.statefulSets[0]
}

func (o *k8sObjects) service(name string) *corev1.Service {
	for _, s := range o.services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (o *k8sObjects) configMap(name string) *corev1.ConfigMap {
	for _, c := range o.configMaps {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// container returns the pod template's container or init container name.
func container(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Container {
	t.Helper()
	for _, list := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	t.Fatalf("no container %q in the pod template", name)
	return nil
}

// volume returns the pod template's volume name, or nil.
func volume(spec *corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

// mountedAt returns the name of the volume c mounts at path, or "".
func mountedAt(c *corev1.Container, path string) string {
	for _, m := range c.VolumeMounts {
		if filepath.Clean(m.MountPath) == filepath.Clean(path) {
			return m.Name
		}
	}
	return ""
}

// envValue returns the literal value of c's environment variable name.
func envValue(t *testing.T, c *corev1.Container, name string) string {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	t.Fatalf("container %s has no env %s", c.Name, name)
	return ""
}

// flagValue returns the value after --name in args, or "".
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// resolvePort turns a probe or Service target port into a container port
// number of c.
func resolvePort(t *testing.T, c *corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	t.Fatalf("port %q is not a named port of container %s", p.StrVal, c.Name)
	return 0
}

// splitListen splits a listen address (tcp://host:port or host:port).
func splitListen(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(strings.TrimPrefix(addr, "tcp://"))
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	return host, p
}

// readRepoFile reads a file of the repository.
func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimPrefix(b, []byte("\ufeff"))
}
