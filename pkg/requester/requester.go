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
	"errors"
	"fmt"

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
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Clients{User: user, Config: cfg, Kube: kube, Dynamic: dyn}, nil
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
