package faults

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// netLab gives each node of a fault-injection network its own network
// namespace, joined to one bridge in the test's namespace, so that a
// partition can cut the links between nodes (blackhole routes inside each
// namespace) while the test itself still reaches every node. It needs root
// and `ip`; newNetLab says why when it cannot be used.
type netLab struct {
	t      *testing.T
	tag    string // makes every interface and namespace name of this run unique
	subnet string // "10.X.Y." : bridge .1, node i at .(2+i)
	bridge string
	ns     []string
	cut    map[[2]int]bool // blackholed ordered pairs (from, to)
}

// newNetLab builds namespaces for n nodes (plus spare ones, e.g. for a
// Byzantine twin), or returns the reason it cannot.
func newNetLab(t *testing.T, n int) (*netLab, string) {
	t.Helper()
	if os.Getenv("E2E_NO_NETNS") != "" {
		return nil, "E2E_NO_NETNS is set"
	}
	if os.Geteuid() != 0 {
		return nil, "network namespaces need root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, "no `ip` command (iproute2)"
	}
	r := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(n)))
	var l *netLab
	for range 20 {
		// Random, so that two test runs on one machine do not meet.
		tag := fmt.Sprintf("%04x", r.IntN(1<<16))
		subnet := fmt.Sprintf("10.%d.%d.", 100+r.IntN(100), r.IntN(250))
		if subnetInUse(subnet) || linkExists("cfb"+tag) {
			continue
		}
		l = &netLab{t: t, tag: tag, subnet: subnet, bridge: "cfb" + tag, cut: map[[2]int]bool{}}
		break
	}
	if l == nil {
		return nil, "no free subnet for the bridge"
	}
	t.Cleanup(l.teardown)
	if err := l.ip("link", "add", l.bridge, "type", "bridge"); err != nil {
		return nil, fmt.Sprintf("cannot create a bridge: %v", err)
	}
	steps := [][]string{
		{"addr", "add", l.subnet + "1/24", "dev", l.bridge},
		{"link", "set", l.bridge, "up"},
	}
	for _, s := range steps {
		if err := l.ip(s...); err != nil {
			return nil, fmt.Sprintf("bridge setup: %v", err)
		}
	}
	for i := range n {
		if err := l.addNode(i); err != nil {
			return nil, fmt.Sprintf("namespace for node %d: %v", i, err)
		}
	}
	return l, ""
}

func (l *netLab) addNode(i int) error {
	ns := fmt.Sprintf("cfn%s-%d", l.tag, i)
	host, peer := fmt.Sprintf("cfv%s%d", l.tag, i), fmt.Sprintf("cfp%s%d", l.tag, i)
	if err := l.ip("netns", "add", ns); err != nil {
		return err
	}
	l.ns = append(l.ns, ns)
	steps := [][]string{
		{"link", "add", host, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", ns},
		{"link", "set", host, "master", l.bridge},
		{"link", "set", host, "up"},
		{"-n", ns, "addr", "add", l.addr(i) + "/24", "dev", peer},
		{"-n", ns, "link", "set", peer, "up"},
		{"-n", ns, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := l.ip(s...); err != nil {
			return err
		}
	}
	return nil
}

// hostAddr is the bridge's address: the test's own side, which every
// node's namespace reaches (partitions cut only node addresses).
func (l *netLab) hostAddr() string { return l.subnet + "1" }

// addr is node i's IP address.
func (l *netLab) addr(i int) string { return fmt.Sprintf("%s%d", l.subnet, 2+i) }

// command runs name with args inside node i's namespace. `ip netns exec`
// execs the command, so the process id is the command's own.
func (l *netLab) command(i int, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.ns[i], name}, args...)...)
}

// partition cuts every link between a node of side a and a node of side b,
// in both directions; other links stay.
func (l *netLab) partition(a, b []int) error {
	for _, i := range a {
		for _, j := range b {
			for _, p := range [][2]int{{i, j}, {j, i}} {
				if l.cut[p] {
					continue
				}
				if err := l.ip("-n", l.ns[p[0]], "route", "add", "blackhole", l.addr(p[1])+"/32"); err != nil {
					return err
				}
				l.cut[p] = true
			}
		}
	}
	return nil
}

// heal removes every cut.
func (l *netLab) heal() error {
	var first error
	for p := range l.cut {
		if err := l.ip("-n", l.ns[p[0]], "route", "del", "blackhole", l.addr(p[1])+"/32"); err != nil && first == nil {
			first = err
		}
		delete(l.cut, p)
	}
	return first
}

func (l *netLab) teardown() {
	for _, ns := range l.ns {
		_ = exec.Command("ip", "netns", "del", ns).Run() // removes its veth end, and so the pair
	}
	_ = exec.Command("ip", "link", "del", l.bridge).Run()
}

func (l *netLab) ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// subnetInUse reports whether an interface of this namespace already has an
// address in the /24 starting with prefix.
func subnetInUse(prefix string) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true
	}
	for _, a := range addrs {
		if strings.HasPrefix(a.String(), prefix) {
			return true
		}
	}
	return false
}
