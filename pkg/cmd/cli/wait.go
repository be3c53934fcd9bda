package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	arkv1 "github.com/arkproject/ark/pkg/apis/ark/v1"
)

// waitInterval is how often --wait reads the status.
var waitInterval = 500 * time.Millisecond

// progressBar renders "[=====>     ]  42/100 items  InProgress" on one line.
func progressBar(phase string, p *arkv1.Progress) string {
	const width = 30
	done, total := 0, 0
	if p != nil {
		done, total = p.ItemsDone, p.TotalItems
	}
	filled := 0
	if total > 0 {
		filled = min(width, done*width/total)
	}
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	if phase == "" {
		phase = "New"
	}
	return fmt.Sprintf("[%s] %d/%d items  %s", bar, done, total, phase)
}

// waitFor polls get until done says the object finished, drawing progress.
// It returns the final phase.
func waitFor(ctx context.Context, w io.Writer, what string, get func(context.Context) (phase string, progress *arkv1.Progress, finished bool, err error)) (string, error) {
	fmt.Fprintf(w, "Waiting for %s to finish (Ctrl-C stops waiting; the operation goes on).\n", what)
	last := ""
	for {
		phase, p, finished, err := get(ctx)
		if err != nil {
			return "", err
		}
		if line := progressBar(phase, p); line != last {
			fmt.Fprintf(w, "\r%s", line)
			last = line
		}
		if finished {
			fmt.Fprintln(w)
			return phase, nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(w)
			return "", ctx.Err()
		case <-time.After(waitInterval):
		}
	}
}

// outcome turns a finished phase into the command's result: a Failed
// operation makes the command fail.
func outcome(kind, name, phase, reason string, validation []string, describeHint string) error {
	switch phase {
	case "Failed", "FailedValidation":
		msg := fmt.Sprintf("%s %q %s", kind, name, phase)
		if reason != "" {
			msg += ": " + reason
		}
		for _, v := range validation {
			msg += "\n  " + v
		}
		return &exitError{code: 1, msg: msg + "\n" + describeHint}
	}
	return nil
}
