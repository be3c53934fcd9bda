package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// discoveryFor serves the legacy discovery of the kinds install applies.
func discoveryFor(w http.ResponseWriter, path string) bool {
	type res struct {
		Name       string   `json:"name"`
		Namespaced bool     `json:"namespaced"`
		Kind       string   `json:"kind"`
		Verbs      []string `json:"verbs"`
	}
	verbs := []string{"get", "delete"}
	groups := map[string][]res{
		"/api/v1": {{"namespaces", false, "Namespace", verbs}, {"secrets", true, "Secret", verbs}, {"services", true, "Service", verbs},
			{"serviceaccounts", true, "ServiceAccount", verbs}, {"persistentvolumeclaims", true, "PersistentVolumeClaim", verbs}},
		"/apis/apps/v1": {{"statefulsets", true, "StatefulSet", verbs}, {"deployments", true, "Deployment", verbs}},
		"/apis/rbac.authorization.k8s.io/v1": {{"clusterroles", false, "ClusterRole", verbs}, {"clusterrolebindings", false, "ClusterRoleBinding", verbs},
			{"roles", true, "Role", verbs}, {"rolebindings", true, "RoleBinding", verbs}},
		"/apis/apiregistration.k8s.io/v1": {{"apiservices", false, "APIService", verbs}},
	}
	w.Header().Set("Content-Type", "application/json")
	switch path {
	case "/api":
		fmt.Fprint(w, `{"kind":"APIVersions","versions":["v1"]}`)
	case "/apis":
		var list []string
		for _, g := range []string{"apps", "rbac.authorization.k8s.io", "apiregistration.k8s.io"} {
			list = append(list, fmt.Sprintf(`{"name":%q,"versions":[{"groupVersion":"%s/v1","version":"v1"}],"preferredVersion":{"groupVersion":"%s/v1","version":"v1"}}`, g, g, g))
		}
		fmt.Fprintf(w, `{"kind":"APIGroupList","apiVersion":"v1","groups":[%s]}`, strings.Join(list, ","))
	default:
		r, ok := groups[path]
		if !ok {
			return false
		}
		gv := strings.TrimPrefix(strings.TrimPrefix(path, "/apis/"), "/api/")
		data, _ := json.Marshal(map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": r})
		w.Write(data)
	}
	return true
}

// uninstallServer records the deletions uninstall sends, in order; the
// objects named in missing answer 404.
func uninstallServer(t *testing.T, missing ...string) (string, func() []string) {
	var mu sync.Mutex
	var deletes []string
	_, kc := apiServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && discoveryFor(w, r.URL.Path) {
			return
		}
		if r.Method != http.MethodDelete {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		// DeleteOptions come in the body.
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		deletes = append(deletes, r.URL.Path+"?"+string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		for _, m := range missing {
			if strings.HasSuffix(r.URL.Path, m) {
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
				return
			}
		}
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Success"}`)
	})
	return kc, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), deletes...) }
}

func countPrefix(list []string, prefix string) int {
	n := 0
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// uninstall removes the APIService first, then what install applied and
// generated; it keeps the namespaces, the cluster's Ark identity and the
// etcd's claim unless told to purge.
func TestUninstallRemovesTheAPIServiceFirstAndKeepsTheIdentity(t *testing.T) {
	kc, deletes := uninstallServer(t, "/secrets/cloud-credentials")
	r := mustRun(t, nil, nil, "--kubeconfig", kc, "uninstall")
	got := deletes()
	if len(got) == 0 || !strings.HasPrefix(got[0], "/apis/apiregistration.k8s.io/v1/apiservices/v1.ark.heptio.com?") {
		t.Fatalf("first deletion %q, want the APIService", got)
	}
	for _, want := range []string{
		"/apis/apps/v1/namespaces/ark-system/statefulsets/ark-apiserver",
		"/api/v1/namespaces/ark-system/secrets/ark-apiserver-tls",
		"/api/v1/namespaces/ark-system/secrets/ark-apiserver-ca",
		"/apis/rbac.authorization.k8s.io/v1/clusterroles/ark-apiserver",
		"/api/v1/namespaces/ark-system/services/ark-apiserver",
	} {
		if countPrefix(got, want+"?") != 1 {
			t.Errorf("%s deleted %d times, want once", want, countPrefix(got, want+"?"))
		}
	}
	for _, kept := range []string{"/api/v1/namespaces/ark-system?", "/api/v1/namespaces/heptio-ark?", "/api/v1/namespaces/ark-system/secrets/ark-provenance", "/api/v1/namespaces/ark-system/persistentvolumeclaims/"} {
		if n := countPrefix(got, kept); n != 0 {
			t.Errorf("%s deleted without --purge", kept)
		}
	}
	for _, want := range []string{"apiservice/v1.ark.heptio.com deleted", "secret/cloud-credentials -n heptio-ark not found", "The bucket was not touched"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}

	// --purge: the identity, the claim, then the namespaces, last.
	kc, deletes = uninstallServer(t)
	mustRun(t, nil, nil, "--kubeconfig", kc, "uninstall", "--purge")
	got = deletes()
	n := len(got)
	if n < 4 || countPrefix(got[n-2:], "/api/v1/namespaces/") != 2 || countPrefix(got, "/api/v1/namespaces/ark-system/secrets/ark-provenance?") != 1 || countPrefix(got, "/api/v1/namespaces/ark-system/persistentvolumeclaims/data-ark-apiserver-0?") != 1 {
		t.Errorf("--purge deletions %q, want the identity and the claim, then the two namespaces last", got)
	}
	if !strings.HasPrefix(got[0], "/apis/apiregistration.k8s.io/v1/apiservices/") {
		t.Errorf("--purge: first deletion %q, want the APIService", got[0])
	}

	// A server dry run asks the cluster to check each deletion, doing none.
	kc, deletes = uninstallServer(t)
	mustRun(t, nil, nil, "--kubeconfig", kc, "uninstall", "--dry-run=server")
	for _, d := range deletes() {
		if !strings.Contains(d, `"dryRun":["All"]`) {
			t.Errorf("server dry run sent %s", d)
		}
	}
}

// If the APIService cannot be deleted, nothing else is: Ark stays served
// and whole rather than half removed.
func TestUninstallStopsWhenTheAPIServiceStays(t *testing.T) {
	var deletes []string
	_, kc := apiServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && discoveryFor(w, r.URL.Path) {
			return
		}
		deletes = append(deletes, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,"message":"apiservices is forbidden"}`)
	})
	wantErr(t, nil, []string{"--kubeconfig", kc, "uninstall"}, "which must go first", "nothing else was deleted")
	if len(deletes) != 1 {
		t.Errorf("deletions %q, want only the APIService's", deletes)
	}
}
