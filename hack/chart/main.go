// Command chart lints Ark's Helm chart and packages it, as `helm lint` and
// `helm package` would, with Helm's Go library (no helm binary): `make
// chart` runs it. It prints the lint's warnings and errors, and the
// archive's path.
//
//	go run ./hack/chart -chart charts/ark -out _output/charts
//
// SOURCE_DATE_EPOCH, when set, dates the archive's files, so the same
// sources make the same archive.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"time"

	"helm.sh/helm/v4/pkg/chart/v2/lint/support"

	"github.com/arkproject/ark/charts"
)

func main() {
	dir := flag.String("chart", "charts/ark", "the chart's directory")
	out := flag.String("out", "_output/charts", "where to write NAME-VERSION.tgz")
	version := flag.String("version", "", "the chart version to package as (default: Chart.yaml's)")
	flag.Parse()
	log.SetFlags(0)

	var modTime time.Time
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			log.Fatalf("SOURCE_DATE_EPOCH=%q: %v", s, err)
		}
		modTime = time.Unix(sec, 0).UTC()
	}
	// The chart needs backupLocation to render, as its users do.
	messages, err := charts.Lint(*dir, "default", map[string]any{"backupLocation": "gs://bucket/prefix"})
	for _, m := range messages {
		if m.Severity >= support.WarningSev {
			fmt.Fprintln(os.Stderr, m.Error())
		}
	}
	if err != nil {
		log.Fatalf("%s does not lint: %v", *dir, err)
	}
	path, err := charts.Package(*dir, *out, *version, modTime)
	if err != nil {
		log.Fatalf("packaging %s: %v", *dir, err)
	}
	fmt.Println(path)
}
