// Package manifests checks consort's deployment files without a container
// engine or a cluster: the Dockerfile and .dockerignore at the repository
// root, the compose network of scripts/docker and the Kubernetes manifests of
// scripts/k8s. It is a module of its own so that the Kubernetes and BuildKit
// libraries stay out of the main module; run it with `make manifests`.
//
// The checks are tests only:
//
//   - k8sobjects_test.go decodes every scripts/k8s document strictly into the
//     Kubernetes API types; manifests_test.go checks the properties a
//     validator network relies on (disruption budget, probes, non-root, no
//     key material);
//   - inithome_test.go runs the StatefulSet's init script and container
//     arguments against a real consort binary on loopback, and checks the
//     documented `consort testnet` steps against compose and the ConfigMap;
//   - dockerfile_test.go parses the Dockerfile with BuildKit's parser and
//     matches .dockerignore against the repository;
//   - compose_test.go runs `docker-compose config` on scripts/docker/compose.yml
//     and checks it against the Prometheus and Grafana files beside it (and
//     prometheus.yml with promtool, when it is installed).
package manifests
