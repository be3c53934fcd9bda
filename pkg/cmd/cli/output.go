package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// getOptions are the flags of the get commands.
type getOptions struct {
	output        string
	selector      string
	allNamespaces bool
	noHeaders     bool
}

func (o *getOptions) add(fs *pflag.FlagSet) {
	fs.StringVarP(&o.output, "output", "o", "table", "output format: table, yaml or json")
	fs.StringVarP(&o.selector, "selector", "l", "", "label selector")
	fs.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	fs.BoolVar(&o.noHeaders, "no-headers", false, "omit the table's headers")
}

// printTable fetches resource as a server-side table (the same columns
// `kubectl get` shows) and prints it.
func printTable(ctx context.Context, env *Env, resource string, names []string, o getOptions) error {
	cfg, err := env.RESTConfig()
	if err != nil {
		return err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.GroupVersion = &arkv1.SchemeGroupVersion
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = tableCodecs
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		return err
	}
	tables := []*metav1.Table{}
	fetch := func(name string) error {
		req := rc.Get().Resource(resource).SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
		if !o.allNamespaces {
			req = req.Namespace(env.Namespace())
		}
		if name != "" {
			req = req.Name(name)
		}
		if o.selector != "" {
			req = req.Param("labelSelector", o.selector)
		}
		raw, err := req.Do(ctx).Raw()
		if err != nil {
			return statusFromBody(raw, err)
		}
		var t metav1.Table
		if err := json.Unmarshal(raw, &t); err != nil {
			return fmt.Errorf("reading the table: %w", err)
		}
		// The printer reads each row's namespace (the NAMESPACE column of
		// -A) from its decoded object, the server's PartialObjectMetadata.
		for i := range t.Rows {
			if o := &t.Rows[i].Object; o.Object == nil && len(o.Raw) > 0 {
				if obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, o.Raw); err == nil {
					o.Object = obj
				}
			}
		}
		tables = append(tables, &t)
		return nil
	}
	if len(names) == 0 {
		if err := fetch(""); err != nil {
			return err
		}
	}
	for _, n := range names {
		if err := fetch(n); err != nil {
			return err
		}
	}
	merged := tables[0]
	for _, t := range tables[1:] {
		merged.Rows = append(merged.Rows, t.Rows...)
	}
	if len(merged.Rows) == 0 {
		if o.allNamespaces {
			fmt.Fprintf(env.Err, "No %s found.\n", pluralOf(resource))
		} else {
			fmt.Fprintf(env.Err, "No %s found in namespace %s.\n", pluralOf(resource), env.Namespace())
		}
		return nil
	}
	p := printers.NewTablePrinter(printers.PrintOptions{NoHeaders: o.noHeaders, WithNamespace: o.allNamespaces})
	return p.PrintObj(merged, env.Out)
}

// printObject prints an object as YAML or JSON, with its apiVersion and kind.
func printObject(w io.Writer, obj runtime.Object, kind, format string) error {
	obj.GetObjectKind().SetGroupVersionKind(arkv1.SchemeGroupVersion.WithKind(kind))
	return printValue(w, obj, format)
}

// itemList is what kubectl prints for a list in YAML or JSON: a v1 List, so
// the output is one document a tool can read back.
type itemList struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   map[string]string `json:"metadata"`
	Items      []runtime.Object  `json:"items"`
}

// printList prints objects (of one kind) as a List, even zero of them.
func printList(w io.Writer, objs []runtime.Object, kind, format string) error {
	l := itemList{APIVersion: "v1", Kind: "List", Metadata: map[string]string{"resourceVersion": ""}, Items: []runtime.Object{}}
	for _, obj := range objs {
		obj.GetObjectKind().SetGroupVersionKind(arkv1.SchemeGroupVersion.WithKind(kind))
		l.Items = append(l.Items, obj)
	}
	return printValue(w, l, format)
}

func printValue(w io.Writer, v any, format string) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	switch format {
	case "json":
		_, err = fmt.Fprintln(w, string(data))
	case "yaml":
		y, yerr := yaml.JSONToYAML(data)
		if yerr != nil {
			return yerr
		}
		_, err = w.Write(y)
	default:
		return fmt.Errorf("unknown output format %q (want table, yaml or json)", format)
	}
	return err
}

// statusFromBody recovers the API Status from an error response's body.
// client-go only decodes it when the response's media type matches what it
// asked for, and a Table request gets a plain JSON Status back, so without
// this a denied `ark backup get` would say "unknown" instead of why.
func statusFromBody(body []byte, err error) error {
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Kind == "Status" && st.Status == metav1.StatusFailure {
		return &apierrors.StatusError{ErrStatus: st}
	}
	return err
}

// tableCodecs decodes the server's Table responses.
var tableCodecs = func() runtime.NegotiatedSerializer {
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, arkv1.SchemeGroupVersion)
	// Errors come back as v1 Status: decode them, or their message is lost.
	scheme.AddUnversionedTypes(schema.GroupVersion{Version: "v1"}, &metav1.Status{})
	return serializer.NewCodecFactory(scheme).WithoutConversion()
}()
