package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
	"github.com/arkproject/ark/pkg/version"
)

const (
	// (ark-apiserver runs in installNamespace as serverName, as artifacts/
	// installs it; the APIService's Service, when it can be read, says
	// where it really is.)
	// debugServerSelector selects ark-apiserver's pods (artifacts/).
	debugServerSelector = "app.kubernetes.io/name=ark-apiserver"
	// redacted replaces values a bundle must not carry.
	redacted = "REDACTED"
)

// debugFollowLimit bounds how long the log of a running backup, which
// backups/logs follows until the backup ends, is read. (A variable for tests.)
var debugFollowLimit = 5 * time.Second

// debugArkResources are the Ark objects a bundle lists.
var debugArkResources = []string{"backups", "restores", "schedules", locationsResource, snapshotLocationsResource}

var (
	podsGVR         = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	servicesGVR     = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	eventsGVR       = schema.GroupVersionResource{Version: "v1", Resource: "events"}
	statefulSetsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
	deploymentsGVR  = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

// debugOptions are ark debug's flags.
type debugOptions struct {
	backup, restore string
	output          string
	logLines        int64
	force           bool
}

func newDebugCommand(env *Env) *cobra.Command {
	var o debugOptions
	cmd := &cobra.Command{
		Use:   "debug [--backup NAME] [--restore NAME] [--output FILE]",
		Short: "Write a support bundle for a bug report",
		Long: `Write a support bundle to attach to a bug report: a gzipped tarball holding
  version.txt   the client's, Kubernetes' and the Ark server's versions, and the APIService's conditions
  resources/    YAML of the backups, restores, schedules, backup and volume snapshot locations (across
                all namespaces if you may, else in the namespace of -n), the APIService, ark-apiserver's
                StatefulSet or Deployment, pods and Service, the events of its namespace and those of
                Ark's objects
  logs/         the last --log-lines lines of each ark-apiserver container (and of its previous run
                when it restarted); with --backup and --restore, their logs
  results/      with --restore, the restore's per-item results
  summary.txt   what was collected, and what was not and why

Everything is read through kube-apiserver with your own credentials, never from the bucket: the
bundle holds what you may read, and what you may not (or what failed) is listed with the reason
while the rest is still written. The command fails only when it cannot write the file.

Secrets are never collected. Values that look like credentials are replaced by REDACTED: location
config values whose keys contain key, secret, token, password, sas or connectionstring, and
container environment variables so named; managedFields and kubectl's last-applied-configuration
annotation (a copy of the object as applied) are dropped. Look the bundle over before sharing it.`,
		Example: `  ark debug
  ark debug --backup nightly-20260101030000 --restore nightly-20260101030000-20260102090000
  ark debug -n team-a --output /tmp/ark-debug.tar.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.logLines <= 0 {
				return fmt.Errorf("--log-lines must be positive, not %d", o.logLines)
			}
			return runDebug(cmd.Context(), env, o, time.Now().UTC())
		},
	}
	cmd.Flags().StringVar(&o.backup, "backup", "", "also collect this backup (of the namespace of -n), and its log")
	cmd.Flags().StringVar(&o.restore, "restore", "", "also collect this restore (of the namespace of -n), its log and its results")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "file to write (default ark-debug-<UTC time>.tar.gz in the current directory)")
	cmd.Flags().Int64Var(&o.logLines, "log-lines", 2000, "how many of the last lines of each ark-apiserver container's log to collect")
	cmd.Flags().BoolVar(&o.force, "force", false, "overwrite the file if it exists")
	completeFlag(env, cmd, "backup", "backups")
	completeFlag(env, cmd, "restore", "restores")
	return cmd
}

// runDebug writes the bundle. It goes to a temporary file beside the
// output, renamed into place once complete, so an interrupted run leaves
// no truncated bundle that looks whole.
func runDebug(ctx context.Context, env *Env, o debugOptions, now time.Time) error {
	output := o.output
	if output == "" {
		output = "ark-debug-" + now.Format("20060102T150405Z") + ".tar.gz"
	}
	if !o.force {
		if _, err := os.Lstat(output); err == nil {
			return fmt.Errorf("%s exists (use --force to overwrite it)", output)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(output), ".ark-debug-*.tmp")
	if err != nil {
		return fmt.Errorf("writing the bundle: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	gz := gzip.NewWriter(tmp)
	b := &debugBundle{tw: tar.NewWriter(gz), now: now, names: map[string]bool{}}
	c := &debugCollector{env: env, b: b, o: o, systemNamespace: installNamespace, serverName: serverName, namespaces: map[string]bool{}}
	c.collect(ctx)
	summary := b.summary()
	b.add("summary.txt", []byte(summary))
	err = b.err
	for _, closeErr := range []error{b.tw.Close(), gz.Close(), tmp.Close()} {
		if err == nil && closeErr != nil {
			err = closeErr
		}
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), output)
	}
	if err != nil {
		return fmt.Errorf("writing the bundle %s: %w", output, err)
	}
	size := int64(-1)
	if fi, err := os.Stat(output); err == nil {
		size = fi.Size()
	}
	fmt.Fprintf(env.Out, "Wrote %s (%d files, %d bytes).\n\n%s", output, b.files, size, summary)
	return nil
}

// debugBundle is the tarball being written, with the account of what went
// into it and what did not, for the summary.
type debugBundle struct {
	tw  *tar.Writer
	now time.Time
	// names are the entries written: an object both listed and named by
	// --backup or --restore goes in once.
	names map[string]bool
	files int
	// collected, missing and notes are the summary's lines.
	collected, missing, notes []string
	// err is the first failure to write the bundle itself: after it
	// nothing more is written, and the command fails.
	err error
}

// add writes one file.
func (b *debugBundle) add(name string, data []byte) {
	b.addFrom(name, int64(len(data)), bytes.NewReader(data))
}

func (b *debugBundle) addFrom(name string, size int64, r io.Reader) {
	if b.err != nil || b.names[name] {
		return
	}
	hdr := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: b.now, Format: tar.FormatPAX}
	if err := b.tw.WriteHeader(hdr); err != nil {
		b.err = fmt.Errorf("adding %s: %w", name, err)
		return
	}
	if _, err := io.Copy(b.tw, r); err != nil {
		b.err = fmt.Errorf("adding %s: %w", name, err)
		return
	}
	b.names[name] = true
	b.files++
}

// addStream writes what r yields as one file, and returns the error that
// ended the read, if any: what was read before it is kept (the start of a
// log is worth having). r is spooled to a temporary file because a tar
// header needs the size and a backup's log may be too large for memory.
func (b *debugBundle) addStream(name string, r io.Reader) (int64, error) {
	spool, err := os.CreateTemp("", "ark-debug-*")
	if err != nil {
		b.err = fmt.Errorf("spooling %s: %w", name, err)
		return 0, nil
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	n, readErr := io.Copy(spool, r)
	if n > 0 || readErr == nil {
		if _, err := spool.Seek(0, io.SeekStart); err != nil {
			b.err = fmt.Errorf("spooling %s: %w", name, err)
			return n, readErr
		}
		b.addFrom(name, n, io.LimitReader(spool, n))
	}
	return n, readErr
}

// HandleWarningHeader keeps a warning the API sent with an answer: Ark
// warns, for one, when a list of backups lacks those of a location it
// cannot reach, so the bundle is incomplete and the summary must say so.
func (b *debugBundle) HandleWarningHeader(code int, agent, text string) {
	if code != 299 || text == "" {
		return
	}
	if note := "the API warned: " + text; !slices.Contains(b.notes, note) {
		b.notes = append(b.notes, note)
	}
}

func (b *debugBundle) got(format string, args ...any) {
	b.collected = append(b.collected, fmt.Sprintf(format, args...))
}

// failed records what could not be collected, and why.
func (b *debugBundle) failed(what string, err error) {
	b.missing = append(b.missing, what+": "+whyNot(err))
}

func (b *debugBundle) note(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

// summary is what was collected and what was not, for the terminal and
// for summary.txt: the reader of a bug report sees at once what is missing.
func (b *debugBundle) summary() string {
	var s strings.Builder
	fmt.Fprintf(&s, "ark debug at %s, client ark %s\n", b.now.Format(time.RFC3339), version.Get())
	section := func(title string, lines []string, none string) {
		if len(lines) == 0 {
			if none != "" {
				fmt.Fprintf(&s, "\n%s %s\n", title, none)
			}
			return
		}
		fmt.Fprintf(&s, "\n%s\n", title)
		for _, l := range lines {
			fmt.Fprintf(&s, "  %s\n", l)
		}
	}
	section("Collected:", b.collected, "nothing")
	section("Not collected:", b.missing, "nothing")
	section("Notes:", b.notes, "")
	return s.String()
}

// whyNot is the reason a part could not be collected, its kind first
// (forbidden, not found, ...) so a reader scanning the summary sees it.
func whyNot(err error) string {
	msg := err.Error()
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		msg = status.Status().Message
	}
	switch {
	case apierrors.IsForbidden(err):
		return "forbidden: " + msg
	case apierrors.IsNotFound(err):
		return "not found: " + msg
	case apierrors.IsUnauthorized(err):
		return "unauthorized: " + msg
	case apierrors.IsServiceUnavailable(err):
		return "unavailable: " + msg
	case apierrors.IsBadRequest(err):
		return "refused: " + msg
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), errors.Is(err, context.DeadlineExceeded):
		return "timed out: " + msg
	}
	return "failed: " + msg
}

// debugCollector reads the parts of a bundle, each on its own: a part that
// fails is recorded and the next one is read all the same.
type debugCollector struct {
	env *Env
	b   *debugBundle
	o   debugOptions
	dyn dynamic.Interface
	// systemNamespace and serverName are where ark-apiserver runs: the
	// APIService's Service, else artifacts/' defaults.
	systemNamespace, serverName string
	// externalName is the host the APIService's Service names when it is
	// an ExternalName Service: Ark then runs outside the cluster.
	externalName string
	// namespaces hold Ark objects: their events are read there.
	namespaces map[string]bool
}

func (c *debugCollector) collect(ctx context.Context) {
	if !c.versions(ctx) {
		c.b.note("kube-apiserver could not be reached: nothing but the client's version was collected")
		return
	}
	c.arkObjects(ctx)
	c.server(ctx)
	c.arkEvents(ctx)
	c.operation(ctx, "backups", c.o.backup)
	c.operation(ctx, "restores", c.o.restore)
}

// versions writes version.txt: what `ark version` prints, then the
// APIService's service and conditions. It reports whether kube-apiserver
// answered at all; when it did not, nothing else can be read.
func (c *debugCollector) versions(ctx context.Context) bool {
	var text bytes.Buffer
	err := printVersions(ctx, c.env, &text, false)
	defer func() { c.b.add("version.txt", text.Bytes()) }()
	var exit *exitError
	var status apierrors.APIStatus
	switch {
	case err == nil, errors.As(err, &exit):
		// printVersions wrote why in the text.
	case errors.As(err, &status):
		fmt.Fprintln(&text, explain(err))
		c.b.failed("Kubernetes version", err)
	default:
		fmt.Fprintf(&text, "kube-apiserver: %v\n", err)
		c.b.failed("kube-apiserver", err)
		return false
	}
	build := ""
	for _, line := range strings.Split(text.String(), "\n") {
		if reason, ok := strings.CutPrefix(line, serverBuildUnknown); ok {
			c.b.missing = append(c.b.missing, "Ark server build: "+reason)
		} else if strings.HasPrefix(line, "Server: ark ") {
			build = strings.TrimPrefix(line, "Server: ")
		} else if exit != nil && strings.HasPrefix(line, "Server: "+arkv1.SchemeGroupVersion.String()+" is not served") {
			c.b.missing = append(c.b.missing, "Ark server build: "+strings.TrimPrefix(line, "Server: "))
		}
	}
	dyn, err := c.dynamic()
	if err != nil {
		c.b.failed("kube-apiserver", err)
		return false
	}
	c.dyn = dyn
	fmt.Fprintf(&text, "\nAPIService %s:\n", arkAPIService)
	svc, err := dyn.Resource(apiServiceGVR).Get(ctx, arkAPIService, metav1.GetOptions{})
	if err != nil {
		fmt.Fprintf(&text, "  not read: %s\n", whyNot(err))
		c.b.failed("APIService "+arkAPIService, err)
	} else {
		c.apiService(&text, svc)
		c.write(apiServiceGVR, svc)
	}
	if build != "" {
		c.b.got("version.txt: client, Kubernetes and server (%s) versions", build)
	} else {
		c.b.got("version.txt: client and Kubernetes versions")
	}
	return true
}

// dynamic is the client objects are read with: Env's, but with the API's
// warnings kept for the summary rather than printed.
func (c *debugCollector) dynamic() (dynamic.Interface, error) {
	cfg, err := c.env.RESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = c.b
	return dynamic.NewForConfig(cfg)
}

// apiService describes the APIService in version.txt and learns from it
// where ark-apiserver runs.
func (c *debugCollector) apiService(w io.Writer, svc *unstructured.Unstructured) {
	ns, _, _ := unstructured.NestedString(svc.Object, "spec", "service", "namespace")
	name, _, _ := unstructured.NestedString(svc.Object, "spec", "service", "name")
	if ns != "" && name != "" {
		c.systemNamespace, c.serverName = ns, name
		port, _, _ := unstructured.NestedInt64(svc.Object, "spec", "service", "port")
		fmt.Fprintf(w, "  Service:   %s/%s, port %d\n", ns, name, port)
	} else {
		fmt.Fprintln(w, "  Service:   none (served by kube-apiserver itself)")
	}
	conds, _, _ := unstructured.NestedSlice(svc.Object, "status", "conditions")
	if len(conds) == 0 {
		fmt.Fprintln(w, "  Conditions: none")
	}
	for _, cond := range conds {
		m, _ := cond.(map[string]any)
		fmt.Fprintf(w, "  Condition: %v=%v", m["type"], m["status"])
		if r, _ := m["reason"].(string); r != "" {
			fmt.Fprintf(w, " (%s)", r)
		}
		if t, _ := m["lastTransitionTime"].(string); t != "" {
			fmt.Fprintf(w, " since %s", t)
		}
		if msg, _ := m["message"].(string); msg != "" {
			fmt.Fprintf(w, ": %s", msg)
		}
		fmt.Fprintln(w)
	}
}

// arkObjects writes Ark's objects, across all namespaces when the user may
// list them so, else in the namespace of -n.
func (c *debugCollector) arkObjects(ctx context.Context) {
	for _, resource := range debugArkResources {
		gvr := arkv1.SchemeGroupVersion.WithResource(resource)
		list, err := c.dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		where := "all namespaces"
		if apierrors.IsForbidden(err) {
			c.b.failed(resource+" in all namespaces", err)
			where = "namespace " + c.env.Namespace()
			list, err = c.dyn.Resource(gvr).Namespace(c.env.Namespace()).List(ctx, metav1.ListOptions{})
		}
		if err != nil {
			c.b.failed(resource+" in "+where, err)
			continue
		}
		for i := range list.Items {
			c.namespaces[list.Items[i].GetNamespace()] = true
			c.write(gvr, &list.Items[i])
		}
		c.b.got("%s: %d in %s", resourceDir(gvr), len(list.Items), where)
	}
}

// server writes what runs ark-apiserver in its namespace: its StatefulSet
// or Deployment, Service, pods and their logs, and the namespace's events.
func (c *debugCollector) server(ctx context.Context) {
	ns, name := c.systemNamespace, c.serverName
	workloads := 0
	for _, gvr := range []schema.GroupVersionResource{statefulSetsGVR, deploymentsGVR} {
		obj, err := c.dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err): // it is one or the other
		case err != nil:
			c.b.failed(fmt.Sprintf("%s %s/%s", gvr.Resource, ns, name), err)
		default:
			workloads++
			c.write(gvr, obj)
			c.b.got("%s: %s/%s", resourceDir(gvr), ns, name)
		}
	}
	svc, err := c.dyn.Resource(servicesGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		c.b.failed(fmt.Sprintf("service %s/%s", ns, name), err)
	} else {
		c.write(servicesGVR, svc)
		c.b.got("%s: %s/%s", resourceDir(servicesGVR), ns, name)
		if t, _, _ := unstructured.NestedString(svc.Object, "spec", "type"); t == string(corev1.ServiceTypeExternalName) {
			c.externalName, _, _ = unstructured.NestedString(svc.Object, "spec", "externalName")
		}
	}
	c.pods(ctx, workloads)
	c.events(ctx, ns, "", "in namespace "+ns)
}

// pods writes ark-apiserver's pods and the tail of each container's log,
// and of its previous run when it restarted: the run that crashed is
// often the one that explains the bug.
func (c *debugCollector) pods(ctx context.Context, workloads int) {
	ns := c.systemNamespace
	list, err := c.dyn.Resource(podsGVR).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: debugServerSelector})
	if err != nil {
		c.b.failed("pods in "+ns, err)
		return
	}
	c.b.got("%s: %d in %s (%s)", resourceDir(podsGVR), len(list.Items), ns, debugServerSelector)
	if len(list.Items) == 0 {
		switch {
		case c.externalName != "":
			c.b.note("Ark does not run as pods: the APIService reaches it through the ExternalName Service %s/%s (%s), as under `make run`, so no server logs were collected; they are that process's own (make run: _output/local/logs)", ns, c.serverName, c.externalName)
		case workloads == 0:
			c.b.note("Ark does not run as pods in %s (no StatefulSet or Deployment %s, no pod labelled %s), so no server logs were collected", ns, c.serverName, debugServerSelector)
		default:
			c.b.note("no pod labelled %s in %s although its workload exists: see the events", debugServerSelector, ns)
		}
		return
	}
	kube, err := c.env.Kube()
	if err != nil {
		c.b.failed("logs of pods in "+ns, err)
		return
	}
	lines := c.o.logLines
	for i := range list.Items {
		c.write(podsGVR, &list.Items[i])
		var pod corev1.Pod
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object, &pod); err != nil {
			c.b.failed("containers of pod "+ns+"/"+list.Items[i].GetName(), err)
			continue
		}
		restarts := map[string]int32{}
		for _, s := range append(pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses...) {
			restarts[s.Name] = s.RestartCount
		}
		for _, ctr := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
			for _, previous := range []bool{false, true} {
				if previous && restarts[ctr.Name] == 0 {
					continue
				}
				file := "logs/pods/" + safeName(ns) + "/" + safeName(pod.Name) + "/" + safeName(ctr.Name) + ".log"
				what := fmt.Sprintf("log of container %s of pod %s/%s", ctr.Name, ns, pod.Name)
				if previous {
					file = strings.TrimSuffix(file, ".log") + ".previous.log"
					what = "previous " + what
				}
				rc, err := kube.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{Container: ctr.Name, TailLines: &lines, Previous: previous}).Stream(ctx)
				c.addStream(file, what, rc, err)
			}
		}
	}
}

// arkEvents writes the events of Ark's objects, across all namespaces when
// the user may list them so, else in each namespace holding Ark objects
// and in the namespace of -n.
func (c *debugCollector) arkEvents(ctx context.Context) {
	selector := "involvedObject.apiVersion=" + arkv1.SchemeGroupVersion.String()
	if err := c.events(ctx, "", selector, "of Ark objects in all namespaces"); !apierrors.IsForbidden(err) {
		return
	}
	c.namespaces[c.env.Namespace()] = true
	var namespaces []string
	for ns := range c.namespaces {
		if ns != "" {
			namespaces = append(namespaces, ns)
		}
	}
	sort.Strings(namespaces)
	for _, ns := range namespaces {
		c.events(ctx, ns, selector, "of Ark objects in namespace "+ns)
	}
}

// events writes the events of namespace ns ("": all) matching the field
// selector; what says which they are in the summary ("in namespace X").
func (c *debugCollector) events(ctx context.Context, ns, fieldSelector, what string) error {
	list, err := c.dyn.Resource(eventsGVR).Namespace(ns).List(ctx, metav1.ListOptions{FieldSelector: fieldSelector})
	if err != nil {
		c.b.failed("events "+what, err)
		return err
	}
	for i := range list.Items {
		c.write(eventsGVR, &list.Items[i])
	}
	c.b.got("%s: %d %s", resourceDir(eventsGVR), len(list.Items), what)
	return nil
}

// operation writes a backup or restore named by --backup or --restore, its
// log and a restore's results, read as `ark backup logs` and `ark restore
// logs|results` read them.
func (c *debugCollector) operation(ctx context.Context, resource, name string) {
	if name == "" {
		return
	}
	ns, noun := c.env.Namespace(), nounOf(resource)
	gvr := arkv1.SchemeGroupVersion.WithResource(resource)
	obj, err := c.dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	phase := ""
	if err != nil {
		c.b.failed(fmt.Sprintf("%s %s/%s", noun, ns, name), err)
	} else {
		c.write(gvr, obj)
		phase, _, _ = unstructured.NestedString(obj.Object, "status", "phase")
		c.b.got("%s %s/%s (%s)", noun, ns, name, phaseOr(phase))
	}
	// The server follows the log of a running backup until the backup
	// ends; a bundle takes what it holds so far.
	logCtx := ctx
	running := resource == "backups" && (phase == "" || phase == string(arkv1.BackupPhaseNew) || phase == string(arkv1.BackupPhaseInProgress)) && err == nil
	if running {
		var cancel context.CancelFunc
		logCtx, cancel = context.WithTimeout(ctx, debugFollowLimit)
		defer cancel()
	}
	file := fmt.Sprintf("logs/%s/%s/%s.log", resource, safeName(ns), safeName(name))
	rc, err := stream(logCtx, c.env, resource, name, "logs")
	if n, readErr := c.addStream(file, fmt.Sprintf("log of %s %s/%s", noun, ns, name), rc, err); running && errors.Is(readErr, context.DeadlineExceeded) && n > 0 {
		c.b.note("%s %s/%s is still running: its log is what it had written after %s", noun, ns, name, debugFollowLimit)
	}
	if resource == "restores" {
		rc, err := stream(ctx, c.env, resource, name, "results")
		c.addStream(fmt.Sprintf("results/restores/%s/%s.json", safeName(ns), safeName(name)), fmt.Sprintf("results of restore %s/%s", ns, name), rc, err)
	}
}

// addStream writes the stream opened with openErr as file, and records it
// in the summary as what; it returns the bytes read and the read's error.
func (c *debugCollector) addStream(file, what string, rc io.ReadCloser, openErr error) (int64, error) {
	if openErr != nil {
		c.b.failed(what, openErr)
		return 0, openErr
	}
	defer rc.Close()
	n, err := c.b.addStream(file, rc)
	if err != nil {
		c.b.failed(what+fmt.Sprintf(" (%d bytes kept)", n), err)
		return n, err
	}
	c.b.got("%s: %s (%d bytes)", file, what, n)
	return n, nil
}

// write adds an object as YAML, redacted, under
// resources/<resource>[.<group>]/namespaces/<ns>/<name>.yaml (or
// .../cluster/<name>.yaml), the layout of Ark's own backups.
func (c *debugCollector) write(gvr schema.GroupVersionResource, obj *unstructured.Unstructured) {
	path := resourceDir(gvr) + "/cluster/" + safeName(obj.GetName()) + ".yaml"
	if ns := obj.GetNamespace(); ns != "" {
		path = resourceDir(gvr) + "/namespaces/" + safeName(ns) + "/" + safeName(obj.GetName()) + ".yaml"
	}
	clean := obj.DeepCopy()
	redact(clean.Object)
	data, err := yaml.Marshal(clean.Object)
	if err != nil {
		c.b.failed(path, fmt.Errorf("encoding as YAML: %w", err))
		return
	}
	c.b.add(path, data)
}

// resourceDir is resources/<resource>[.<group>].
func resourceDir(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return "resources/" + gvr.Resource
	}
	return "resources/" + gvr.Resource + "." + gvr.Group
}

var unsafePathChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// safeName makes a name one path element: API names are, but a bundle's
// reader should not have to trust that when unpacking it.
func safeName(name string) string {
	name = unsafePathChars.ReplaceAllString(name, "_")
	if name == "" || name == "." || name == ".." {
		return "_" + name
	}
	return name
}

// sensitiveKey matches the names of settings whose values are credentials
// (storageAccountKey, sasToken, connectionString, AWS_SECRET_ACCESS_KEY...).
var sensitiveKey = regexp.MustCompile(`(?i)key|secret|token|password|sas|connectionstring`)

// lastApplied is kubectl's annotation holding the object as applied: it
// would repeat every value redacted elsewhere.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// redact removes from an object, in place, what a bundle must not carry:
// a Secret's data; location config values and container environment
// variables that look like credentials; managedFields (noise) and the
// last-applied-configuration annotation.
func redact(obj map[string]any) {
	unstructured.RemoveNestedField(obj, "metadata", "managedFields")
	unstructured.RemoveNestedField(obj, "metadata", "annotations", lastApplied)
	if annotations, ok, _ := unstructured.NestedMap(obj, "metadata", "annotations"); ok && len(annotations) == 0 {
		unstructured.RemoveNestedField(obj, "metadata", "annotations")
	}
	switch obj["kind"] {
	case "Secret":
		delete(obj, "data")
		delete(obj, "stringData")
	case "BackupStorageLocation", "VolumeSnapshotLocation":
		if config, ok := nestedMap(obj, "spec", "config"); ok {
			for k := range config {
				if sensitiveKey.MatchString(k) {
					config[k] = redacted
				}
			}
		}
	}
	redactEnv(obj)
}

// redactEnv replaces the values of environment variables with sensitive
// names, wherever a container list sits in the object (pods, templates).
func redactEnv(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if list, ok := child.([]any); ok && k == "env" {
				for _, e := range list {
					if ev, ok := e.(map[string]any); ok {
						if name, _ := ev["name"].(string); sensitiveKey.MatchString(name) {
							if _, has := ev["value"]; has {
								ev["value"] = redacted
							}
						}
					}
				}
			}
			redactEnv(child)
		}
	case []any:
		for _, child := range v {
			redactEnv(child)
		}
	}
}

// nestedMap is the map at path, to change in place (unstructured's
// NestedMap returns a copy).
func nestedMap(obj map[string]any, path ...string) (map[string]any, bool) {
	m := obj
	for _, p := range path {
		next, ok := m[p].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}
