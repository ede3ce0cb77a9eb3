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
TRAEFIK_VERSION=${TRAEFIK_VERSION:-3.7.13}   # newest v3 on the Go module proxy on 2026-12-02
HTTPBIN_VERSION=${HTTPBIN_VERSION:-2.26.0}   # newest v2 on the Go module proxy on 2026-12-02
EXTRA_DIR=$FLEETSIM_CACHE/extra
