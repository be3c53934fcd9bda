// Package requester is the one place where Ark acts as the user who asked
// for a backup or restore. Everything Ark does in the cluster for a user —
// the reads of a backup, the creates and updates of a restore, the execs of
// hooks, the snapshot objects — goes through clients made here, which
// impersonate that user (name, uid, groups and extra). Kubernetes itself then
// applies its RBAC rules, including the bind and escalate checks on roles and
// bindings, its admission (Pod Security, quotas, webhooks) and its audit
// attribution. Ark's own identity is left for Ark's bookkeeping: discovery,
// access reviews, leases, events and namespace lookups.
package requester

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// Clients reach the cluster as one requester.
type Clients struct {
	// User is the requester the clients impersonate.
	User *arkv1.UserInfo
	// Config is the client configuration with the impersonation set, for
	// clients made elsewhere (pods/exec streams).
	Config  *rest.Config
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
}

// Factory makes clients that act as a requester, from Ark's own client
// configuration; Ark's service account needs the impersonate verb on users,
// groups, service accounts, uids and userextras.
type Factory struct {
	// Base is Ark's own client configuration.
	Base *rest.Config
}

// For returns clients that act as user. A user without a name cannot be
// impersonated, and acting with Ark's own rights instead is never an option.
func (f *Factory) For(user *arkv1.UserInfo) (*Clients, error) {
	cfg, err := Config(f.Base, user)
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := newDynamic(cfg)
	if err != nil {
		return nil, err
	}
	return &Clients{User: user, Config: cfg, Kube: kube, Dynamic: dyn}, nil
}

// rawDynamic is a dynamic client that can also list a page as the API
// server's JSON (backup.RawLister), through a REST client made from the same
// impersonating configuration: a backup reads most items without decoding
// them into maps, and still reads them as the requester.
type rawDynamic struct {
	dynamic.Interface
	rest rest.Interface
}

func newDynamic(cfg *rest.Config) (*rawDynamic, error) {
	cfg = dynamic.ConfigFor(cfg)
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("making the requester's HTTP client: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	// Raw pages are read uncompressed: kube-apiserver gzips every large
	// LIST response, which costs it and Ark more CPU than the bytes saved
	// on the short, fast path between them (Ark runs beside the cluster's
	// API servers). The transport differs, so it has its own HTTP client.
	rawCfg := rest.CopyConfig(cfg)
	rawCfg.DisableCompression = true
	rawHTTP, err := rest.HTTPClientFor(rawCfg)
	if err != nil {
		return nil, fmt.Errorf("making the requester's HTTP client: %w", err)
	}
	rc, err := rest.UnversionedRESTClientForConfigAndClient(rawCfg, rawHTTP)
	if err != nil {
		return nil, fmt.Errorf("making the requester's REST client: %w", err)
	}
	return &rawDynamic{Interface: dyn, rest: rc}, nil
}

// path is the REST path of gvr's collection, in namespace unless it is empty.
func path(gvr schema.GroupVersionResource, namespace string) []string {
	segments := []string{"/apis", gvr.Group, gvr.Version}
	if gvr.Group == "" {
		segments = []string{"/api", gvr.Version}
	}
	if namespace != "" {
		segments = append(segments, "namespaces", namespace)
	}
	return append(segments, gvr.Resource)
}

// ListRaw lists one page of gvr (in namespace, unless it is empty) and
// returns the response body; a failed request's error is the API server's
// status, as the dynamic client's would be.
func (d *rawDynamic) ListRaw(ctx context.Context, gvr schema.GroupVersionResource, namespace string, opts metav1.ListOptions) ([]byte, error) {
	return raw(d.rest.Get().AbsPath(path(gvr, namespace)...).
		SpecificallyVersionedParams(&opts, metav1.ParameterCodec, metav1.SchemeGroupVersion).
		Do(ctx))
}

// raw returns a response's body, or the API server's status as the error:
// DoRaw would keep only the HTTP code of a refusal ("unknown"), losing
// the reason Kubernetes gave, such as an RBAC escalation refusal.
func raw(result rest.Result) ([]byte, error) {
	if err := result.Error(); err != nil {
		return nil, err
	}
	return result.Raw()
}

// metadataFirst asks for the created object's metadata only, and accepts the
// whole object from a server that cannot transform its answer (an
// aggregated API not built on k8s.io/apiserver).
const metadataFirst = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json"

// CreateMetadata creates obj in gvr (in namespace, unless it is empty) and
// returns the created object's metadata (restore.MetadataCreator). The API
// server is asked to send back only that: a restore needs the new UID, not
// the object, and decoding every created object in full took a fifth of a
// restore's CPU, besides what encoding it cost the API server. A failed
// request's error is the API server's status, as the dynamic client's is.
func (d *rawDynamic) CreateMetadata(ctx context.Context, gvr schema.GroupVersionResource, namespace string, obj *unstructured.Unstructured, opts metav1.CreateOptions) (*metav1.ObjectMeta, error) {
	body, err := obj.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding %s %s: %w", gvr.Resource, obj.GetName(), err)
	}
	answer, err := raw(d.rest.Post().AbsPath(path(gvr, namespace)...).
		SpecificallyVersionedParams(&opts, metav1.ParameterCodec, metav1.SchemeGroupVersion).
		SetHeader("Accept", metadataFirst).
		SetHeader("Content-Type", "application/json").
		Body(body).
		Do(ctx))
	if err != nil {
		return nil, err
	}
	// Either answer has the object's metadata under "metadata".
	var created metav1.PartialObjectMetadata
	if err := json.Unmarshal(answer, &created); err != nil {
		return nil, fmt.Errorf("decoding the created %s %s: %w", gvr.Resource, obj.GetName(), err)
	}
	if created.UID == "" {
		return nil, fmt.Errorf("the API server's answer to creating %s %s holds no object metadata", gvr.Resource, obj.GetName())
	}
	return &created.ObjectMeta, nil
}

// Config copies base and makes it impersonate user.
func Config(base *rest.Config, user *arkv1.UserInfo) (*rest.Config, error) {
	if user == nil || user.Username == "" {
		return nil, errors.New("no requester is recorded, so there is no one to act as")
	}
	if base.Impersonate.UserName != "" {
		// Impersonating through an impersonation would act as neither.
		return nil, fmt.Errorf("the client configuration already impersonates %q", base.Impersonate.UserName)
	}
	cfg := rest.CopyConfig(base)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: user.Username,
		UID:      user.UID,
		Groups:   append([]string(nil), user.Groups...),
	}
	if len(user.Extra) > 0 {
		cfg.Impersonate.Extra = make(map[string][]string, len(user.Extra))
		for k, v := range user.Extra {
			cfg.Impersonate.Extra[k] = append([]string(nil), v...)
		}
	}
	return cfg, nil
}
