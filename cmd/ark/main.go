// Command ark is Ark's command line: backups, restores and schedules as the
// seed describes them (`ark backup create ...`). Named kubectl-ark it works
// as a kubectl plugin (`kubectl ark ...`).
package main

import (
	"os"

	"github.com/arkproject/ark/pkg/cmd/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
