package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

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

// logProgressEvery is how often --wait prints a progress line when its
// output is not a terminal (a CI log, a pipe), where a redrawn bar would
// pile up as one unreadable line.
var logProgressEvery = 5 * time.Second

// isTerminal says whether w is a terminal the bar can be redrawn on.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// waitFor polls get until done says the object finished, drawing progress.
// It returns the final phase.
func waitFor(ctx context.Context, w io.Writer, what string, get func(context.Context) (phase string, progress *arkv1.Progress, finished bool, err error)) (string, error) {
	fmt.Fprintf(w, "Waiting for %s to finish (Ctrl-C stops waiting; the operation goes on).\n", what)
	redraw := isTerminal(w)
	last, lastPhase := "", ""
	var lastPrinted time.Time
	for {
		phase, p, finished, err := get(ctx)
		if err != nil {
			if redraw && last != "" {
				fmt.Fprintln(w)
			}
			return "", err
		}
		line := progressBar(phase, p)
		switch {
		case redraw && line != last:
			// pad over the rest of a longer previous line
			fmt.Fprintf(w, "\r%-*s", len(last), line)
			last = line
		case !redraw && line != last && (finished || phase != lastPhase || time.Since(lastPrinted) >= logProgressEvery):
			fmt.Fprintln(w, line)
			last, lastPrinted = line, time.Now()
		}
		lastPhase = phase
		if finished {
			if redraw {
				fmt.Fprintln(w)
			}
			return phase, nil
		}
		select {
		case <-ctx.Done():
			if redraw {
				fmt.Fprintln(w)
			}
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
