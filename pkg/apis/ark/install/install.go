// Package install registers the ark.heptio.com API group in a scheme.
package install

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	"github.com/arkproject/ark/pkg/apis/ark"
	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// Install registers the internal and v1 types, with v1 preferred.
func Install(scheme *runtime.Scheme) {
	utilruntime.Must(ark.AddToScheme(scheme))
	utilruntime.Must(arkv1.AddToScheme(scheme))
	utilruntime.Must(scheme.SetVersionPriority(arkv1.SchemeGroupVersion))
}
