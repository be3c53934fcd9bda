// Package localcluster runs a real Kubernetes control plane on loopback —
// etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok with a
// fake node whose pods run (commands exec'd in them run on this machine) —
// and ark-apiserver registered behind it as an APIService, the way users run
// Ark. `make run` and the end-to-end tests use it. Every binary is built from
// pinned Go modules by hack/controlplane/build.sh; nothing is downloaded.
package localcluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Names of what the local cluster creates.
const (
	HomeNamespace = "heptio-ark"
	// SystemNamespace runs the server; it is not the home namespace, so that
	// deleting heptio-ark does not take the API down (see artifacts/).
	SystemNamespace = "ark-system"
	ArkService      = "ark-apiserver"
	APIService      = "v1.ark.heptio.com"
	NodeName        = "kwok-node-0"
)

// Options configure a local cluster.
type Options struct {
	// Dir holds the PKI, kubeconfigs, logs, data and the bucket.
	Dir string
	// BinDir holds etcd, kube-apiserver, kube-controller-manager,
	// kube-scheduler, kwok, kubectl.
	BinDir string
	// ArkAPIServer is the ark-apiserver binary.
	ArkAPIServer string
	// ArtifactsDir holds the manifests applied to the cluster.
	ArtifactsDir string
	// KwokStages are kwok Stage files (node and pod lifecycles).
	KwokStages []string
	// BucketPollInterval is passed to ark-apiserver.
	BucketPollInterval time.Duration
	// ArkArgs are extra flags for ark-apiserver.
	ArkArgs []string
	// BucketDir, when set, is the file bucket instead of <Dir>/bucket: two
	// clusters given the same one share a bucket, as a disaster-recovery
	// or staging cluster shares a production cluster's.
	BucketDir string
	// Log receives progress messages.
	Log io.Writer
}

// Cluster is a running local cluster.
type Cluster struct {
	opts Options
	pki  *pki
	// Kubeconfig is the administrator's kubeconfig (system:masters).
	Kubeconfig string
	// Server is kube-apiserver's URL.
	Server string
	// Config and Kube are the administrator's client configuration and clientset.
	Config *rest.Config
	Kube   kubernetes.Interface
	// ArkPort is where ark-apiserver listens on 127.0.0.1.
	ArkPort int
	// BucketDir is the file bucket's directory.
	BucketDir string
	// EtcdURL is the cluster's etcd, which Ark shares (under its own prefix)
	// so that several ark-apiserver replicas see the same restores and schedules.
	EtcdURL string

	procs map[string]*process
	order []string
	// replicaPorts are the ports of replicas started by StartReplica.
	replicaPorts map[string]int
}

func (c *Cluster) logf(format string, args ...any) {
	if c.opts.Log != nil {
		fmt.Fprintf(c.opts.Log, format+"\n", args...)
	}
}

func (c *Cluster) path(elem ...string) string {
	return filepath.Join(append([]string{c.opts.Dir}, elem...)...)
}

func (c *Cluster) bin(name string) string { return filepath.Join(c.opts.BinDir, name) }

// Start brings the whole cluster up and returns once the Ark APIService is
// Available. On error everything started is stopped again.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if opts.BucketPollInterval == 0 {
		opts.BucketPollInterval = 5 * time.Second
	}
	abs, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	opts.Dir = abs
	started := &Cluster{opts: opts, procs: map[string]*process{}}
	c = started
	defer func() {
		if err != nil {
			// c is nil by then: stop what was started through its own copy.
			started.Stop()
		}
	}()
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl"} {
		if _, err := os.Stat(c.bin(b)); err != nil {
			return nil, fmt.Errorf("%s is missing: run hack/controlplane/build.sh (make controlplane): %w", b, err)
		}
	}
	// Cluster state starts fresh every time; the bucket and the PKI persist,
	// so backups outlive the cluster, as they should.
	for _, d := range []string{"etcd", "ark", "logs"} {
		if err := os.RemoveAll(c.path(d)); err != nil {
			return nil, err
		}
	}
	c.BucketDir = c.path("bucket")
	if opts.BucketDir != "" {
		c.BucketDir = opts.BucketDir
	}
	for _, dir := range []string{c.BucketDir, c.VolumesDir()} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	if c.pki, err = ensurePKI(c.path("pki"), ArkService+"."+SystemNamespace+".svc"); err != nil {
		return nil, fmt.Errorf("local PKI: %w", err)
	}
	ports, err := freePorts(6)
	if err != nil {
		return nil, err
	}
	etcdPort, peerPort, apiPort, kwokPort, arkPort, schedulerPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	c.ArkPort = arkPort
	c.EtcdURL = fmt.Sprintf("http://127.0.0.1:%d", etcdPort)
	c.Server = "https://127.0.0.1:" + strconv.Itoa(apiPort)

	if err := c.startEtcd(ctx, etcdPort, peerPort); err != nil {
		return nil, err
	}
	if err := c.startKubeAPIServer(ctx, etcdPort, apiPort); err != nil {
		return nil, err
	}
	if err := c.startControllerManager(ctx); err != nil {
		return nil, err
	}
	if err := c.startScheduler(ctx, schedulerPort); err != nil {
		return nil, err
	}
	if err := c.startKwok(ctx, kwokPort); err != nil {
		return nil, err
	}
	if err := c.installArk(ctx); err != nil {
		return nil, err
	}
	if err := c.restoreIdentity(ctx); err != nil {
		return nil, err
	}
	if err := c.StartArk(ctx); err != nil {
		return nil, err
	}
	if err := c.saveIdentity(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// identityFile keeps Ark's identity Secret (its signing key and cluster ID)
// beside the PKI, which outlives the cluster as the bucket does: each start
// is a fresh cluster, but the same Ark, so the backups it made on earlier
// runs stay its own to expire and delete. Remove the file (or use another
// Dir) to start as a new cluster, which must adopt what it finds.
func (c *Cluster) identityFile() string { return c.path("pki", "ark-identity.json") }

const identitySecret = "ark-provenance"

func (c *Cluster) restoreIdentity(ctx context.Context) error {
	data, err := os.ReadFile(c.identityFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var secretData map[string][]byte
	if err := json.Unmarshal(data, &secretData); err != nil {
		return fmt.Errorf("%s: %w", c.identityFile(), err)
	}
	c.logf(">> restoring Ark's identity from %s", c.identityFile())
	_, err = c.Kube.CoreV1().Secrets(SystemNamespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: identitySecret, Namespace: SystemNamespace},
		Type:       corev1.SecretTypeOpaque,
		Data:       secretData,
	}, metav1.CreateOptions{})
	return err
}

// ForeignBackups counts the backups in the bucket that this cluster's Ark
// did not make (an earlier make run's without a kept identity, another
// cluster's, or an older Ark's), which it will not expire or delete until
// they are adopted; make run says so.
func (c *Cluster) ForeignBackups(ctx context.Context) (int, error) {
	s, err := c.Kube.CoreV1().Secrets(SystemNamespace).Get(ctx, identitySecret, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return 0, err
	}
	list, err := dyn.Resource(backupsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, b := range list.Items {
		phase, _, _ := unstructured.NestedString(b.Object, "status", "phase")
		if phase != "Corrupt" && b.GetAnnotations()["ark.heptio.com/cluster"] != string(s.Data["cluster"]) {
			n++
		}
	}
	return n, nil
}

func (c *Cluster) saveIdentity(ctx context.Context) error {
	if _, err := os.Stat(c.identityFile()); err == nil {
		return nil
	}
	s, err := c.Kube.CoreV1().Secrets(SystemNamespace).Get(ctx, identitySecret, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading Ark's identity to keep it: %w", err)
	}
	data, err := json.Marshal(s.Data)
	if err != nil {
		return err
	}
	return os.WriteFile(c.identityFile(), data, 0o600)
}

func (c *Cluster) track(p *process) {
	c.procs[p.name] = p
	c.order = append(c.order, p.name)
}

func (c *Cluster) startEtcd(ctx context.Context, port, peer int) error {
	c.logf(">> starting etcd")
	client := fmt.Sprintf("http://127.0.0.1:%d", port)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
	p, err := startProcess(c.path("logs"), "etcd", c.bin("etcd"),
		"--name=local", "--data-dir="+c.path("etcd"),
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=local="+peerURL, "--unsafe-no-fsync", "--log-level=warn")
	if err != nil {
		return err
	}
	c.track(p)
	return waitFor(ctx, p, "etcd", time.Minute, func(ctx context.Context) error {
		return httpOK(ctx, http.DefaultClient, client+"/health")
	})
}

func (c *Cluster) startKubeAPIServer(ctx context.Context, etcdPort, port int) error {
	c.logf(">> starting kube-apiserver on %s", c.Server)
	pk := c.pki.path
	p, err := startProcess(c.path("logs"), "kube-apiserver", c.bin("kube-apiserver"),
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", etcdPort),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		// A loopback advertise address needs this, or kube-apiserver exits.
		"--endpoint-reconciler-type=none",
		"--tls-cert-file="+pk("kube-apiserver.crt"), "--tls-private-key-file="+pk("kube-apiserver.key"),
		"--client-ca-file="+pk("ca.crt"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pk("sa.pub"), "--service-account-signing-key-file="+pk("sa.key"),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--authorization-mode=Node,RBAC",
		"--requestheader-client-ca-file="+pk("front-proxy-ca.crt"),
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file="+pk("front-proxy-client.crt"), "--proxy-client-key-file="+pk("front-proxy-client.key"),
		// Aggregated servers on 127.0.0.1 are reached through an ExternalName
		// Service; endpoint routing would refuse a loopback address.
		"--enable-aggregator-routing=false",
		"--kubelet-client-certificate="+pk("kubelet-client.crt"), "--kubelet-client-key="+pk("kubelet-client.key"),
		"--allow-privileged=true",
	)
	if err != nil {
		return err
	}
	c.track(p)
	c.Kubeconfig = c.path("admin.kubeconfig")
	if err := c.pki.writeCertKubeconfig(c.Kubeconfig, c.Server, "admin", "default"); err != nil {
		return err
	}
	if c.Config, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return err
	}
	c.Config.QPS, c.Config.Burst = 100, 200
	if c.Kube, err = kubernetes.NewForConfig(c.Config); err != nil {
		return err
	}
	return waitFor(ctx, p, "kube-apiserver /readyz", 2*time.Minute, func(ctx context.Context) error {
		_, err := c.Kube.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
}

func (c *Cluster) startControllerManager(ctx context.Context) error {
	c.logf(">> starting kube-controller-manager")
	kubeconfig := c.path("kube-controller-manager.kubeconfig")
	if err := c.pki.writeCertKubeconfig(kubeconfig, c.Server, "kube-controller-manager", ""); err != nil {
		return err
	}
	p, err := startProcess(c.path("logs"), "kube-controller-manager", c.bin("kube-controller-manager"),
		"--kubeconfig="+kubeconfig,
		"--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port=0",
		"--leader-elect=false",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+c.pki.path("sa.key"),
		"--root-ca-file="+c.pki.path("ca.crt"),
		"--cluster-signing-cert-file="+c.pki.path("ca.crt"), "--cluster-signing-key-file="+c.pki.path("ca.key"),
	)
	if err != nil {
		return err
	}
	c.track(p)
	// The default service account shows the controllers are working.
	return waitFor(ctx, p, "kube-controller-manager (default service account)", 2*time.Minute, func(ctx context.Context) error {
		_, err := c.Kube.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

// startScheduler starts kube-scheduler, so that pods without a nodeName land
// on the fake node and run (Deployments roll out, backup hooks find Running
// pods). It serves /readyz on 127.0.0.1 only, for the wait below.
func (c *Cluster) startScheduler(ctx context.Context, port int) error {
	c.logf(">> starting kube-scheduler")
	kubeconfig := c.path("kube-scheduler.kubeconfig")
	if err := c.pki.writeCertKubeconfig(kubeconfig, c.Server, "kube-scheduler", ""); err != nil {
		return err
	}
	p, err := startProcess(c.path("logs"), "kube-scheduler", c.bin("kube-scheduler"),
		"--kubeconfig="+kubeconfig,
		"--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig,
		// Its serving certificate is self-signed, in memory (no --cert-dir).
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--leader-elect=false",
	)
	if err != nil {
		return err
	}
	c.track(p)
	// /readyz (anonymous, always allowed) turns ready once the scheduler's
	// informers have synced, so it is talking to kube-apiserver.
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // readiness only
	return waitFor(ctx, p, "kube-scheduler /readyz", 2*time.Minute, func(ctx context.Context) error {
		return httpOK(ctx, insecure, fmt.Sprintf("https://127.0.0.1:%d/readyz", port))
	})
}

func (c *Cluster) startKwok(ctx context.Context, port int) error {
	c.logf(">> starting kwok with node %s", NodeName)
	config := c.path("kwok.yaml")
	// kwok requires its parallelism options set explicitly.
	if err := os.WriteFile(config, []byte(`apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  nodeLeaseParallelism: 4
  podsOnNodeSyncParallelism: 4
  # The fake node renews its Lease as a kubelet does; without it
  # kube-controller-manager finds the node silent after 50s, marks it
  # Unknown and its pods not Ready, and Deployments lose availability.
  nodeLeaseDurationSeconds: 40
  # Serves exec (and logs) for pods on the fake node.
  enableDebuggingHandlers: true
---
# kubectl exec into a fake pod runs the command here, on the host, in
# the cluster directory (ExecDir): backup hooks run through pods/exec.
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: local
spec:
  execs:
  - local:
      workDir: `+c.ExecDir()+`
`), 0o644); err != nil {
		return err
	}
	args := []string{
		"--kubeconfig=" + c.Kubeconfig,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-ip=127.0.0.1", fmt.Sprintf("--node-port=%d", port),
		fmt.Sprintf("--server-address=127.0.0.1:%d", port),
		"--tls-cert-file=" + c.pki.path("kwok.crt"), "--tls-private-key-file=" + c.pki.path("kwok.key"),
		"--config=" + config,
	}
	for _, s := range c.opts.KwokStages {
		args = append(args, "--config="+s)
	}
	p, err := startProcess(c.path("logs"), "kwok", c.bin("kwok"), args...)
	if err != nil {
		return err
	}
	c.track(p)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:        NodeName,
		Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": NodeName},
	}}
	if _, err := c.Kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating fake node: %w", err)
	}
	return waitFor(ctx, p, "fake node Ready", time.Minute, func(ctx context.Context) error {
		n, err := c.Kube.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return errors.New("node not Ready")
	})
}

// installArk applies the manifests of artifacts/ that fit a local cluster
// (namespace, service account, RBAC, user roles), then the local Service and
// APIService, and writes ark-apiserver's kubeconfig with a token of its
// service account, so the server runs with exactly the rights a real
// deployment has.
func (c *Cluster) installArk(ctx context.Context) error {
	c.logf(">> installing Ark's namespace, service account, RBAC and APIService")
	for _, f := range []string{"00-namespace.yaml", "10-rbac.yaml", "20-user-roles.yaml"} {
		if out, err := c.Kubectl(ctx, nil, "apply", "-f", filepath.Join(c.opts.ArtifactsDir, f)); err != nil {
			return fmt.Errorf("applying %s: %v\n%s", f, err, out)
		}
	}
	if out, err := c.Kubectl(ctx, []byte(c.localManifests()), "apply", "-f", "-"); err != nil {
		return fmt.Errorf("applying the local Service and APIService: %v\n%s", err, out)
	}
	token, err := c.Kubectl(ctx, nil, "create", "token", ArkService, "-n", SystemNamespace, "--duration=8760h")
	if err != nil {
		return fmt.Errorf("creating a token for %s: %v\n%s", ArkService, err, token)
	}
	return c.pki.writeTokenKubeconfig(c.path("ark-apiserver.kubeconfig"), c.Server,
		"system:serviceaccount:"+SystemNamespace+":"+ArkService, strings.TrimSpace(string(token)), SystemNamespace)
}

// localManifests are the Service and APIService for a server on loopback: an
// ExternalName Service to localhost, and the real CA bundle of Ark's serving
// certificate. The port is not named "https" as in artifacts/, so that
// `ark install --dry-run=server` can be tried here: applied over this
// Service, artifacts/' port 443 would otherwise duplicate the name.
func (c *Cluster) localManifests() string { return c.localManifestsFor(c.ArkPort) }

// localManifestsFor are localManifests routing to the server on port.
func (c *Cluster) localManifestsFor(port int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: %[2]s
spec:
  type: ExternalName
  externalName: localhost
  ports:
  - name: loopback
    port: %[3]d
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: %[4]s
spec:
  group: ark.heptio.com
  version: v1
  groupPriorityMinimum: 1000
  versionPriority: 100
  service:
    name: %[1]s
    namespace: %[2]s
    port: %[3]d
  caBundle: %[5]s
`, ArkService, SystemNamespace, port, APIService, base64.StdEncoding.EncodeToString(c.pki.arkCA.CertPEM))
}

// RouteAPIService points Ark's Service and APIService at the replica
// started as name (ark-apiserver's own port for "ark-apiserver"), as a
// Service's endpoints follow the pods that are ready: the aggregator then
// sends Ark's API there.
func (c *Cluster) RouteAPIService(ctx context.Context, name string) error {
	port := c.ArkPort
	if name != "ark-apiserver" {
		var ok bool
		if port, ok = c.replicaPorts[name]; !ok {
			return fmt.Errorf("no replica %s", name)
		}
	}
	if out, err := c.Kubectl(ctx, []byte(c.localManifestsFor(port)), "apply", "-f", "-"); err != nil {
		return fmt.Errorf("routing the APIService to %s: %v\n%s", name, err, out)
	}
	return nil
}

// StartArk starts ark-apiserver (again, after StopArk) and waits until the
// APIService is Available.
func (c *Cluster) StartArk(ctx context.Context, extraArgs ...string) error {
	return c.startArk(ctx, false, extraArgs)
}

// StartArkEmbeddedEtcd is StartArk with the server on the etcd it embeds in
// its data directory (ArkDataDir) instead of the cluster's, as the shipped
// StatefulSet runs it: what it keeps besides backups lives there alone.
func (c *Cluster) StartArkEmbeddedEtcd(ctx context.Context, extraArgs ...string) error {
	return c.startArk(ctx, true, extraArgs)
}

// ArkDataDir is ark-apiserver's --data-dir, which survives its restarts.
func (c *Cluster) ArkDataDir() string { return c.path("ark") }

func (c *Cluster) startArk(ctx context.Context, embeddedEtcd bool, extraArgs []string) error {
	c.logf(">> starting ark-apiserver on 127.0.0.1:%d", c.ArkPort)
	args := c.arkArgs(c.ArkPort, "ark", extraArgs)
	if embeddedEtcd {
		args = slices.DeleteFunc(args, func(a string) bool { return strings.HasPrefix(a, "--etcd-servers=") })
	}
	if old, ok := c.procs["ark-apiserver"]; ok && old.running() == nil {
		return errors.New("ark-apiserver is already running")
	}
	p, err := startProcessEnv(c.path("logs"), "ark-apiserver", c.opts.ArkAPIServer, c.tmpEnv(), args...)
	if err != nil {
		return err
	}
	if _, ok := c.procs["ark-apiserver"]; !ok {
		c.order = append(c.order, "ark-apiserver")
	}
	c.procs["ark-apiserver"] = p
	// Available alone is not enough after a restart: the condition can still
	// be the previous process's. A list through kube-apiserver, as the
	// administrator, proves this one serves and authenticates the
	// aggregator (for a moment after start it answers 503 while its
	// delegated authentication takes effect).
	return waitFor(ctx, p, "APIService "+APIService+" Available and serving", 2*time.Minute, func(ctx context.Context) error {
		if err := c.apiServiceAvailable(ctx); err != nil {
			return err
		}
		dyn, err := dynamic.NewForConfig(c.Config)
		if err != nil {
			return err
		}
		_, err = dyn.Resource(backupsGVR).Namespace(HomeNamespace).List(ctx, metav1.ListOptions{Limit: 1})
		return err
	})
}

var backupsGVR = schema.GroupVersionResource{Group: "ark.heptio.com", Version: "v1", Resource: "backups"}

func (c *Cluster) arkArgs(port int, dataDir string, extraArgs []string) []string {
	kubeconfig := c.path("ark-apiserver.kubeconfig")
	return append([]string{
		fmt.Sprintf("--secure-port=%d", port), "--bind-address=127.0.0.1",
		"--tls-cert-file=" + c.pki.path("ark-apiserver.crt"), "--tls-private-key-file=" + c.pki.path("ark-apiserver.key"),
		"--kubeconfig=" + kubeconfig, "--authentication-kubeconfig=" + kubeconfig, "--authorization-kubeconfig=" + kubeconfig,
		"--namespace=" + HomeNamespace,
		"--data-dir=" + c.path(dataDir),
		"--etcd-servers=" + c.EtcdURL,
		"--backup-location=file://" + c.BucketDir,
		"--bucket-poll-interval=" + c.opts.BucketPollInterval.String(),
		// the fake node's hostPath volumes live here
		"--hostpath-restore-dirs=" + c.VolumesDir(),
		// local volumes bind at once; a claim that does not is reported soon
		"--restore-claim-bind-timeout=30s",
	}, append(append([]string(nil), c.opts.ArkArgs...), extraArgs...)...)
}

// StartReplica starts another ark-apiserver sharing etcd and the bucket,
// not registered with the aggregator, and waits until it is ready. Tests use
// it to check what replicas must never do twice.
func (c *Cluster) StartReplica(ctx context.Context, name string, extraArgs ...string) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	c.logf(">> starting replica %s on 127.0.0.1:%d", name, ports[0])
	p, err := startProcessEnv(c.path("logs"), name, c.opts.ArkAPIServer, c.tmpEnv(), c.arkArgs(ports[0], name, extraArgs)...)
	if err != nil {
		return err
	}
	c.track(p)
	if c.replicaPorts == nil {
		c.replicaPorts = map[string]int{}
	}
	c.replicaPorts[name] = ports[0]
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // readiness only
	return waitFor(ctx, p, name+" /readyz", 2*time.Minute, func(ctx context.Context) error {
		return httpOK(ctx, insecure, fmt.Sprintf("https://127.0.0.1:%d/readyz", ports[0]))
	})
}

// ReplicaPort is the port of a replica started by StartReplica, 0 if none.
func (c *Cluster) ReplicaPort(name string) int { return c.replicaPorts[name] }

// KillReplica kills a replica with SIGKILL, as KillArk does ark-apiserver.
func (c *Cluster) KillReplica(name string) {
	if p, ok := c.procs[name]; ok {
		p.kill()
	}
}

// StopReplica stops a replica started by StartReplica.
func (c *Cluster) StopReplica(name string) {
	if p, ok := c.procs[name]; ok {
		p.stop(20 * time.Second)
	}
}

// StopArk stops ark-apiserver, leaving the rest of the cluster running.
func (c *Cluster) StopArk() { c.StopArkWithin(20 * time.Second) }

// StopArkWithin sends ark-apiserver SIGTERM and kills it if it has not
// exited after grace, as the kubelet does a pod; it says how long the
// process took to exit and whether it had to be killed.
func (c *Cluster) StopArkWithin(grace time.Duration) (took time.Duration, killed bool) {
	p, ok := c.procs["ark-apiserver"]
	if !ok || p.running() != nil {
		return 0, false
	}
	start := time.Now()
	killed = p.stop(grace)
	return time.Since(start), killed
}

// ArkPID is the process id of the running ark-apiserver, for tools that read
// its memory use from /proc (the benchmarks); an error if it is not running.
func (c *Cluster) ArkPID() (int, error) { return c.PID("ark-apiserver") }

// PID is the process id of one of the cluster's running servers, by name
// ("etcd", "kube-apiserver", "ark-apiserver"...), for the benchmarks' CPU and
// memory readings from /proc.
func (c *Cluster) PID(name string) (int, error) {
	p, ok := c.procs[name]
	if !ok {
		return 0, fmt.Errorf("%s was never started", name)
	}
	if err := p.running(); err != nil {
		return 0, err
	}
	return p.cmd.Process.Pid, nil
}

// KillArk kills ark-apiserver with SIGKILL, as a crash or an OOM kill
// would: no shutdown code runs.
func (c *Cluster) KillArk() {
	if p, ok := c.procs["ark-apiserver"]; ok {
		p.kill()
	}
}

var apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

func (c *Cluster) apiServiceAvailable(ctx context.Context) error {
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	obj, err := dyn.Resource(apiServiceGVR).Get(ctx, APIService, metav1.GetOptions{})
	if err != nil {
		return err
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, cnd := range conds {
		m, _ := cnd.(map[string]any)
		if m["type"] == "Available" {
			if m["status"] == "True" {
				return nil
			}
			return fmt.Errorf("APIService not Available: %v: %v", m["reason"], m["message"])
		}
	}
	return errors.New("APIService has no Available condition yet")
}

// Kubectl runs the cluster's kubectl as the administrator, with stdin.
func (c *Cluster) Kubectl(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.bin("kubectl"), append([]string{"--kubeconfig=" + c.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	return cmd.CombinedOutput()
}

// TempDir is the temporary directory of the cluster's ark-apiserver
// processes (TMPDIR), where restores unpack backups: tests look for what a
// crash left there, and nothing else shares it.
func (c *Cluster) TempDir() string { return c.path("tmp") }

func (c *Cluster) tmpEnv() []string {
	_ = os.MkdirAll(c.TempDir(), 0o700)
	return []string{"TMPDIR=" + c.TempDir()}
}

// VolumesDir is where hostPath volumes of the fake node belong: restores
// write volume data only under it.
func (c *Cluster) VolumesDir() string { return c.path("volumes") }

// ExecDir is where a command exec'd in a pod on the fake node runs, on this
// machine (kwok's ClusterExec): the cluster directory. A backup hook that
// writes a file leaves it here.
func (c *Cluster) ExecDir() string { return c.opts.Dir }

// KubectlPath is the kubectl binary matching the cluster.
func (c *Cluster) KubectlPath() string { return c.bin("kubectl") }

// LogDir holds one log file per process.
func (c *Cluster) LogDir() string { return c.path("logs") }

// Stop stops every process in the reverse order of starting: Ark and the
// controllers first, kube-apiserver before etcd.
func (c *Cluster) Stop() {
	for i := len(c.order) - 1; i >= 0; i-- {
		p := c.procs[c.order[i]]
		grace := 20 * time.Second
		switch p.name {
		case "etcd":
			grace = 10 * time.Second
		case "kwok", "kube-controller-manager", "kube-scheduler":
			// Stateless, and slow to drain their informers on SIGTERM
			// (13s measured): not worth making Ctrl-C wait for.
			grace = 3 * time.Second
		}
		p.stop(grace)
	}
}

// httpOK GETs url and requires 200.
func httpOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, body)
	}
	return nil
}
