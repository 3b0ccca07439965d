package manifests

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	toml "github.com/pelletier/go-toml/v2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// repoRoot is the consort repository: this module lives in tools/manifests.
const repoRoot = "../.."

// The network the manifests describe.
const (
	validators  = 4
	p2pPort     = 26656
	rpcPort     = 26657
	metricsPort = 26660
	// faultTolerance is f of BFT for equal-power validators: n >= 3f+1.
	faultTolerance = (validators - 1) / 3
)

func TestK8sValidatorStatefulSet(t *testing.T) {
	objs := loadK8s(t)
	sts := objs.validatorSet(t)
	spec := &sts.Spec.Template.Spec

	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != validators {
		t.Errorf("replicas: got %v, want %d", sts.Spec.Replicas, validators)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy: got %q, want Parallel (validators must not wait for each other to be ready)", sts.Spec.PodManagementPolicy)
	}
	if sts.Spec.Selector == nil || len(sts.Spec.Selector.MatchLabels) == 0 || len(sts.Spec.Selector.MatchExpressions) > 0 {
		t.Fatalf("selector: want matchLabels only, got %+v", sts.Spec.Selector)
	}
	for k, v := range sts.Spec.Selector.MatchLabels {
		if sts.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template labels %v", k, v, sts.Spec.Template.Labels)
		}
	}

	t.Run("governing service", func(t *testing.T) {
		svc := objs.service(sts.Spec.ServiceName)
		if svc == nil {
			t.Fatalf("serviceName %q: no such Service", sts.Spec.ServiceName)
		}
		if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("Service %s: clusterIP %q, want None (headless, for consort-<i>.%s names)", svc.Name, svc.Spec.ClusterIP, svc.Name)
		}
		if !svc.Spec.PublishNotReadyAddresses {
			t.Errorf("Service %s: publishNotReadyAddresses false; validators become ready only once peered, so they must resolve each other before", svc.Name)
		}
	})

	t.Run("pod security", func(t *testing.T) {
		psc := spec.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
			t.Fatalf("pod securityContext.runAsNonRoot: want true, got %+v", psc)
		}
		if psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Errorf("pod runAsUser: got %v, want a non-root uid", psc.RunAsUser)
		} else if uid := dockerfileUID(t); strconv.FormatInt(*psc.RunAsUser, 10) != uid {
			t.Errorf("pod runAsUser %d differs from the Dockerfile's USER uid %s", *psc.RunAsUser, uid)
		}
		if psc.FSGroup == nil {
			t.Error("pod fsGroup unset: the home volume would not be writable by the node's user")
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Error("automountServiceAccountToken: want false (the node never calls the Kubernetes API)")
		}
		for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			sc := c.SecurityContext
			switch {
			case sc == nil:
				t.Errorf("container %s: no securityContext", c.Name)
				continue
			case sc.RunAsUser != nil && *sc.RunAsUser == 0:
				t.Errorf("container %s: runAsUser 0", c.Name)
			case sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot:
				t.Errorf("container %s: runAsNonRoot false", c.Name)
			case sc.Privileged != nil && *sc.Privileged:
				t.Errorf("container %s: privileged", c.Name)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("container %s: readOnlyRootFilesystem: want true", c.Name)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("container %s: allowPrivilegeEscalation: want false", c.Name)
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
				t.Errorf("container %s: capabilities: want drop [ALL] and nothing added, got %+v", c.Name, sc.Capabilities)
			}
		}
	})

	t.Run("resources", func(t *testing.T) {
		for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, okReq := c.Resources.Requests[res]
				lim, okLim := c.Resources.Limits[res]
				if !okReq || !okLim {
					t.Errorf("container %s: %s request and limit both needed, got requests %v limits %v", c.Name, res, c.Resources.Requests, c.Resources.Limits)
					continue
				}
				if req.Cmp(lim) > 0 {
					t.Errorf("container %s: %s request %s above limit %s", c.Name, res, req.String(), lim.String())
				}
			}
		}
	})

	node := container(t, spec, "consort")
	t.Run("node container", func(t *testing.T) {
		ports := map[string]int32{}
		for _, p := range node.Ports {
			ports[p.Name] = p.ContainerPort
		}
		want := map[string]int32{"p2p": p2pPort, "rpc": rpcPort, "metrics": metricsPort}
		for name, port := range want {
			if ports[name] != port {
				t.Errorf("container port %s: got %d, want %d", name, ports[name], port)
			}
		}
		if len(node.Command) > 0 {
			t.Errorf("command %q overrides the image's ENTRYPOINT consort; use args", node.Command)
		}
		args := node.Args
		if len(args) == 0 || args[0] != "start" {
			t.Fatalf("args %q: want start ...", args)
		}
		if home := flagValue(args, "--home"); home != "/data" {
			t.Errorf("--home %q, want /data", home)
		}
		for flag, port := range map[string]int{"--p2p-laddr": p2pPort, "--rpc-laddr": rpcPort, "--metrics-laddr": metricsPort} {
			host, p := splitListen(t, flagValue(args, flag))
			if p != port {
				t.Errorf("%s port %d, want %d", flag, p, port)
			}
			if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
				t.Errorf("%s %s listens on loopback: peers, Services and probes cannot reach it", flag, host)
			}
		}
	})

	t.Run("probes", func(t *testing.T) {
		probes := []struct {
			name  string
			probe *corev1.Probe
			path  string
		}{
			{"readinessProbe", node.ReadinessProbe, "/readyz"},
			{"livenessProbe", node.LivenessProbe, "/healthz"},
			{"startupProbe", node.StartupProbe, "/healthz"},
		}
		for _, p := range probes {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("%s: want an httpGet probe on %s", p.name, p.path)
				continue
			}
			if p.probe.HTTPGet.Path != p.path {
				t.Errorf("%s path %q, want %q", p.name, p.probe.HTTPGet.Path, p.path)
			}
			if port := resolvePort(t, node, p.probe.HTTPGet.Port); port != metricsPort {
				t.Errorf("%s port %d, want %d (the metrics listener)", p.name, port, metricsPort)
			}
		}
	})

	t.Run("home", func(t *testing.T) {
		if len(sts.Spec.VolumeClaimTemplates) != 1 {
			t.Fatalf("volumeClaimTemplates: got %d, want 1 (the home)", len(sts.Spec.VolumeClaimTemplates))
		}
		pvc := sts.Spec.VolumeClaimTemplates[0]
		if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOnce) {
			t.Errorf("claim %s access modes %v, want ReadWriteOnce", pvc.Name, pvc.Spec.AccessModes)
		}
		if _, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
			t.Errorf("claim %s: no storage request", pvc.Name)
		}
		if volume(spec, pvc.Name) != nil {
			t.Errorf("pod volume %s shadows the claim template of that name", pvc.Name)
		}
		if got := mountedAt(node, "/data"); got != pvc.Name {
			t.Errorf("node mounts %q at /data, want the claim %s", got, pvc.Name)
		}
	})

	t.Run("init container places the home", func(t *testing.T) {
		var places *corev1.Container
		for i := range spec.InitContainers {
			if spec.InitContainers[i].Name == "place-home" {
				places = &spec.InitContainers[i]
			}
		}
		if places == nil {
			t.Fatal("no init container place-home")
		}
		if places.Image != node.Image {
			t.Errorf("init image %q differs from node image %q", places.Image, node.Image)
		}
		home := envValue(t, places, "CONSORT_HOME")
		if home != flagValue(node.Args, "--home") {
			t.Errorf("CONSORT_HOME %q differs from the node's --home %q", home, flagValue(node.Args, "--home"))
		}
		if a, b := mountedAt(places, home), mountedAt(node, home); a == "" || a != b {
			t.Errorf("home %s: init mounts %q, node mounts %q; want the same claim", home, a, b)
		}
		// config/ is rebuilt in memory from the ConfigMap and Secret at each start.
		cfgDir := home + "/config"
		cfgVol := mountedAt(places, cfgDir)
		if cfgVol == "" || mountedAt(node, cfgDir) != cfgVol {
			t.Fatalf("%s: init mounts %q, node mounts %q; want the same emptyDir", cfgDir, cfgVol, mountedAt(node, cfgDir))
		}
		if v := volume(spec, cfgVol); v == nil || v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory {
			t.Errorf("volume %s at %s: want an in-memory emptyDir (keys stay off disk)", cfgVol, cfgDir)
		}

		src := volume(spec, mountedAt(places, envValue(t, places, "CONFIG_SRC")))
		if src == nil || src.ConfigMap == nil {
			t.Fatalf("CONFIG_SRC is not a mounted ConfigMap volume")
		}
		cm := objs.configMap(src.ConfigMap.Name)
		if cm == nil {
			t.Fatalf("ConfigMap %s is referenced but not in the manifests", src.ConfigMap.Name)
		}
		for _, key := range []string{"config.toml", "genesis.json"} {
			if _, ok := cm.Data[key]; !ok {
				t.Errorf("ConfigMap %s has no %s, which the init script copies", cm.Name, key)
			}
		}

		keys := volume(spec, mountedAt(places, envValue(t, places, "KEYS_SRC")))
		if keys == nil || keys.Secret == nil || keys.Secret.SecretName == "" {
			t.Fatalf("KEYS_SRC is not a mounted Secret volume")
		}
		if keys.Secret.DefaultMode == nil || *keys.Secret.DefaultMode&0o007 != 0 {
			t.Errorf("Secret volume %s defaultMode %v: want no access for others (e.g. 0440)", keys.Name, keys.Secret.DefaultMode)
		}
		if mountedAt(node, envValue(t, places, "KEYS_SRC")) != "" {
			t.Error("the node container mounts the key Secret too; only the init container needs it")
		}
		podName := slices.IndexFunc(places.Env, func(e corev1.EnvVar) bool {
			return e.Name == "POD_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name"
		})
		if podName < 0 {
			t.Errorf("init env %+v: want POD_NAME from metadata.name (the ordinal picks the keys)", places.Env)
		}
	})
}

func TestK8sServicesSelectValidators(t *testing.T) {
	objs := loadK8s(t)
	sts := objs.validatorSet(t)
	node := container(t, &sts.Spec.Template.Spec, "consort")
	if len(objs.services) == 0 {
		t.Fatal("no Services")
	}
	for _, svc := range objs.services {
		t.Run(svc.Name, func(t *testing.T) {
			if len(svc.Spec.Selector) == 0 {
				t.Fatal("no selector")
			}
			for k, v := range svc.Spec.Selector {
				if sts.Spec.Template.Labels[k] != v {
					t.Errorf("selector %s=%s matches no validator pod (labels %v)", k, v, sts.Spec.Template.Labels)
				}
			}
			for _, p := range svc.Spec.Ports {
				target := p.TargetPort
				if target.Type == intstr.Int && target.IntVal == 0 {
					target = intstr.FromInt32(p.Port)
				}
				if got := resolvePort(t, node, target); got != p.Port {
					t.Errorf("port %s: %d forwards to container port %d; keep them equal", p.Name, p.Port, got)
				}
			}
		})
	}
	rpc := objs.service("consort-rpc")
	if rpc == nil {
		t.Fatal("no Service consort-rpc")
	}
	if rpc.Spec.ClusterIP == corev1.ClusterIPNone || rpc.Spec.PublishNotReadyAddresses {
		t.Error("consort-rpc must balance over ready validators only (not headless, no unready addresses)")
	}
	if len(rpc.Spec.Ports) != 1 || rpc.Spec.Ports[0].Port != rpcPort {
		t.Errorf("consort-rpc ports %+v, want only %d", rpc.Spec.Ports, rpcPort)
	}
}

func TestK8sDisruptionBudgetKeepsQuorum(t *testing.T) {
	objs := loadK8s(t)
	sts := objs.validatorSet(t)
	if len(objs.pdbs) != 1 {
		t.Fatalf("got %d PodDisruptionBudgets, want 1", len(objs.pdbs))
	}
	pdb := objs.pdbs[0]
	if pdb.Spec.MinAvailable != nil {
		t.Errorf("minAvailable %v set; use maxUnavailable only", pdb.Spec.MinAvailable)
	}
	mu := pdb.Spec.MaxUnavailable
	if mu == nil || mu.Type != intstr.Int || int(mu.IntVal) != faultTolerance {
		t.Errorf("maxUnavailable %v, want the integer %d (f for %d validators: n >= 3f+1)", mu, faultTolerance, validators)
	}
	if int(*sts.Spec.Replicas) < 3*faultTolerance+1 {
		t.Errorf("%d replicas cannot tolerate f = %d", *sts.Spec.Replicas, faultTolerance)
	}
	if pdb.Spec.Selector == nil || len(pdb.Spec.Selector.MatchLabels) == 0 {
		t.Fatal("PodDisruptionBudget has no matchLabels selector")
	}
	for k, v := range pdb.Spec.Selector.MatchLabels {
		if sts.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s matches no validator pod", k, v)
		}
	}
	for k, v := range sts.Spec.Selector.MatchLabels {
		if pdb.Spec.Selector.MatchLabels[k] != v {
			t.Errorf("PodDisruptionBudget selector lacks %s=%s, so it covers more than the validators", k, v)
		}
	}
}

// peerAddress is a persistent_peers entry: id@host:port.
var peerAddress = regexp.MustCompile(`^(REPLACE_NODE(\d+)_ID|[0-9a-f]{40})@([a-z0-9.-]+):(\d+)$`)

func TestK8sConfigMapMatchesStatefulSet(t *testing.T) {
	objs := loadK8s(t)
	sts := objs.validatorSet(t)
	cm := objs.configMap("consort-config")
	if cm == nil {
		t.Fatal("no ConfigMap consort-config")
	}
	if !json.Valid([]byte(cm.Data["genesis.json"])) {
		t.Error("genesis.json is not JSON")
	}
	text := cm.Data["config.toml"]
	// The init script sets the moniker with sed on this exact line form.
	if n := len(regexp.MustCompile(`(?m)^moniker = .*$`).FindAllString(text, -1)); n != 1 {
		t.Errorf("config.toml has %d lines `moniker = ...`, want 1 (the init script rewrites it)", n)
	}
	var conf struct {
		FilterPeers bool `toml:"filter_peers"`
		P2P         struct {
			PersistentPeers string `toml:"persistent_peers"`
			AddrBookStrict  *bool  `toml:"addr_book_strict"`
		} `toml:"p2p"`
		Instrumentation struct {
			Prometheus bool `toml:"prometheus"`
		} `toml:"instrumentation"`
	}
	if err := toml.Unmarshal([]byte(text), &conf); err != nil {
		t.Fatalf("config.toml: %v", err)
	}
	if !conf.Instrumentation.Prometheus {
		t.Error("instrumentation.prometheus false: no metrics listener, so no /healthz or /readyz for the probes")
	}
	if conf.P2P.AddrBookStrict == nil || *conf.P2P.AddrBookStrict {
		t.Error("p2p.addr_book_strict must be false: pod addresses are private")
	}
	peers := strings.Split(conf.P2P.PersistentPeers, ",")
	if len(peers) != validators {
		t.Fatalf("persistent_peers has %d entries, want %d", len(peers), validators)
	}
	for i, p := range peers {
		m := peerAddress.FindStringSubmatch(strings.TrimSpace(p))
		if m == nil {
			t.Errorf("peer %q: want ID@host:port", p)
			continue
		}
		if m[2] != "" && m[2] != strconv.Itoa(i) {
			t.Errorf("peer %d has the placeholder of node %s", i, m[2])
		}
		if want := fmt.Sprintf("%s-%d.%s", sts.Name, i, sts.Spec.ServiceName); m[3] != want {
			t.Errorf("peer %d host %q, want %q (the pod's name under the headless Service)", i, m[3], want)
		}
		if m[4] != strconv.Itoa(p2pPort) {
			t.Errorf("peer %d port %s, want %d", i, m[4], p2pPort)
		}
	}
}

// secretLooking matches text that is key material or a credential, which
// must never be written into a manifest.
var secretLooking = regexp.MustCompile(`(?i)priv_key|-----BEGIN [A-Z ]*PRIVATE KEY|tendermint/PrivKey|cometbft/PrivKey|"type":\s*"[^"]*PrivKey`)

// credentialName is an environment variable that holds a credential.
var credentialName = regexp.MustCompile(`(?i)(TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE|API_?KEY|_KEY$)`)

func TestK8sHoldNoSecrets(t *testing.T) {
	objs := loadK8s(t)
	for where, doc := range objs.raw {
		if loc := secretLooking.FindIndex(doc); loc != nil {
			t.Errorf("%s: key material in a manifest: %q", where, doc[loc[0]:loc[1]])
		}
	}
	for _, cm := range objs.configMaps {
		if len(cm.BinaryData) > 0 {
			t.Errorf("ConfigMap %s: binaryData is not reviewable; keep it text", cm.Name)
		}
		for key := range cm.Data {
			if strings.Contains(key, "key") {
				t.Errorf("ConfigMap %s: key %q looks like key material; keys belong in the Secret", cm.Name, key)
			}
		}
	}
	for _, sts := range objs.statefulSets {
		spec := sts.Spec.Template.Spec
		for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
			for _, e := range c.Env {
				if credentialName.MatchString(e.Name) && e.Value != "" {
					t.Errorf("container %s: env %s has a literal value; use valueFrom.secretKeyRef", c.Name, e.Name)
				}
			}
		}
		for _, v := range spec.Volumes {
			if v.Secret != nil && v.Secret.SecretName == "" {
				t.Errorf("volume %s: Secret without secretName", v.Name)
			}
		}
	}
}
