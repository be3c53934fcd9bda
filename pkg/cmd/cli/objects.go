package cli

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// getObjects reads the named objects, or lists them, for YAML and JSON output.
func getObjects(ctx context.Context, env *Env, resource string, names []string, o getOptions) ([]runtime.Object, error) {
	client, err := env.Ark()
	if err != nil {
		return nil, err
	}
	ns := env.Namespace()
	if o.allNamespaces {
		ns = ""
	}
	opts := metav1.ListOptions{LabelSelector: o.selector}
	var out []runtime.Object
	switch resource {
	case "backups":
		c := client.ArkV1().Backups(ns)
		if len(names) == 0 {
			l, err := c.List(ctx, opts)
			if err != nil {
				return nil, err
			}
			for i := range l.Items {
				out = append(out, &l.Items[i])
			}
		}
		for _, n := range names {
			b, err := c.Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		}
	case "restores":
		c := client.ArkV1().Restores(ns)
		if len(names) == 0 {
			l, err := c.List(ctx, opts)
			if err != nil {
				return nil, err
			}
			for i := range l.Items {
				out = append(out, &l.Items[i])
			}
		}
		for _, n := range names {
			r, err := c.Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	case "schedules":
		c := client.ArkV1().Schedules(ns)
		if len(names) == 0 {
			l, err := c.List(ctx, opts)
			if err != nil {
				return nil, err
			}
			for i := range l.Items {
				out = append(out, &l.Items[i])
			}
		}
		for _, n := range names {
			s, err := c.Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}
