package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
)

// maxProblems is how many warnings and how many errors describe prints; the
// rest are counted and left to the logs.
const maxProblems = 20

// problems are the warnings and errors of a finished backup or restore, as
// its log records them ("TIME LEVEL MESSAGE" lines). The log is read as a
// stream and only the first few messages are kept, so memory stays bounded
// however long the log is.
type problems struct {
	warnings, errors   []string
	nWarnings, nErrors int
}

func readProblems(r io.Reader) (problems, error) {
	var p problems
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		_, rest, _ := strings.Cut(sc.Text(), " ")
		level, msg, _ := strings.Cut(rest, " ")
		switch level {
		case "warning":
			p.nWarnings++
			if len(p.warnings) < maxProblems {
				p.warnings = append(p.warnings, msg)
			}
		case "error":
			p.nErrors++
			if len(p.errors) < maxProblems {
				p.errors = append(p.errors, msg)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return p, fmt.Errorf("reading the log: %w", err)
	}
	return p, nil
}

// print writes the Warnings and Errors sections; more says where the rest is.
func (p problems) print(w io.Writer, more string) {
	section := func(title string, msgs []string, n int) {
		if n == 0 {
			return
		}
		fmt.Fprintf(w, "\n%s (%d):\n", title, n)
		for _, m := range msgs {
			fmt.Fprintf(w, "  %s\n", m)
		}
		if n > len(msgs) {
			fmt.Fprintf(w, "  ... and %d more: %s\n", n-len(msgs), more)
		}
	}
	section("Warnings", p.warnings, p.nWarnings)
	section("Errors", p.errors, p.nErrors)
}

// describeProblems lists a finished operation's warnings and errors from
// its logs subresource. Describe still shows the object when the log
// cannot be read (the bucket may be down): it says so instead.
func describeProblems(ctx context.Context, env *Env, resource, name string) {
	kind := strings.TrimSuffix(resource, "s")
	more := fmt.Sprintf("%s %s logs %s -n %s", env.Name, kind, name, env.Namespace())
	rc, err := stream(ctx, env, resource, name, "logs")
	if err != nil {
		fmt.Fprintf(env.Out, "\nWarnings and errors: cannot read the log: %s\n", explain(err))
		return
	}
	defer rc.Close()
	p, err := readProblems(rc)
	p.print(env.Out, more)
	if err != nil {
		fmt.Fprintf(env.Out, "\n(%v)\n", err)
	}
	fmt.Fprintf(env.Out, "\nFull log: %s\n", more)
}
