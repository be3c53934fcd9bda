package artifacts

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/arkproject/ark/pkg/cmd/server"
)

// Every argument the shipped workloads give ark-apiserver is one of its
// flags, with a value it accepts: a renamed flag would otherwise only show
// as a pod in CrashLoopBackOff on a real cluster.
func TestWorkloadArgsAreServerFlags(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	examples, _ := filepath.Glob("examples/*.yaml")
	checked := 0
	for _, file := range append(files, examples...) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(string(data)), 4096)
		for {
			var obj unstructured.Unstructured
			if err := dec.Decode(&obj.Object); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
			for _, c := range containers {
				c := c.(map[string]any)
				if c["name"] != "ark-apiserver" {
					continue
				}
				var args []string
				for _, a := range c["args"].([]any) {
					args = append(args, a.(string))
				}
				cmd := server.NewCommand(context.Background(), server.NewOptions(io.Discard, io.Discard))
				if err := cmd.ParseFlags(args); err != nil {
					t.Errorf("%s %s: ark-apiserver refuses its arguments: %v", file, obj.GetName(), err)
				}
				checked++
			}
		}
	}
	if checked < 2 {
		t.Errorf("checked %d workloads, want the StatefulSet and the example Deployment at least", checked)
	}
}
