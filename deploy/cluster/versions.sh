# Pinned versions and cache locations for the host cluster. Sourced by up/down/status/build.
# Everything built lands under $FLEETSIM_CACHE (outside the repo), keyed by version.
K8S_VERSION=${K8S_VERSION:-1.34.4}          # newest 1.34 patch on the Go module proxy when pinned
ETCD_VERSION=${ETCD_VERSION:-}              # empty: take kubeadm's DefaultEtcdVersion for K8S_VERSION
CRICTL_VERSION=${CRICTL_VERSION:-1.34.0}
COREDNS_VERSION=${COREDNS_VERSION:-1.12.1}  # what kubeadm 1.34 names
PAUSE_TAG=${PAUSE_TAG:-registry.k8s.io/pause:3.10.1}

FLEETSIM_CACHE=${FLEETSIM_CACHE:-/var/cache/fleetsim}
K8S_DIR=$FLEETSIM_CACHE/k8s-v$K8S_VERSION        # bin/ holds kube-*, kubeadm, kubectl, kubelet, etcd, crictl
GO_MODCACHE=$FLEETSIM_CACHE/go/mod
GO_BUILDCACHE=$FLEETSIM_CACHE/go/build

STATE_DIR=${FLEETSIM_STATE:-/var/lib/fleetsim-cluster}   # etcd data, kubelet dir, pki, kubeconfigs
RUN_DIR=/run/fleetsim-cluster                            # pid files
LOG_DIR=/var/log/fleetsim-cluster

CLUSTER_CIDR=10.244.0.0/16
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.96.0.0/16
CLUSTER_DNS=10.96.0.10
CNI_BRIDGE=fleetsim0
PV_COUNT=${PV_COUNT:-4}     # static hostPath PersistentVolumes under $STATE_DIR/pv
PV_SIZE=${PV_SIZE:-10Gi}

# Third-party servers for the live runs (deploy/cluster/build-extras), from the Go module proxy.
# Traefik: newest v3 that builds from the Go module proxy on 2026-12-02. Not 3.7.x (3.7.11-3.7.13):
# their go.mod replaces the nested module github.com/traefik/traefik/dynamic/ext with
# ./pkg/config/dynamic/ext, a folder the v3 module zip does not contain (nested modules are cut out
# of a module zip) and the proxy answers 403 for that module; 3.7.13 also names 15 dependency versions
# (lego v5 DNS providers, a 2026 containous/go-http-auth pseudo-version) that answer 403 "not
# available". 3.6.12 has no such replace and all its dependencies download (build ~23 min on 2 cores).
TRAEFIK_VERSION=${TRAEFIK_VERSION:-3.6.12}
HTTPBIN_VERSION=${HTTPBIN_VERSION:-2.26.0}   # newest v2 on the Go module proxy on 2026-12-02
EXTRA_DIR=$FLEETSIM_CACHE/extra
