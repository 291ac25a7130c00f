package rollout

import (
	"fmt"
	"strings"

	"github.com/latticepush/latticepush/plan"
)

// unfinishedReasons are the plan's reasons for a unit whose new files are already in place
// while its service runs the previous ones: an earlier apply swapped them and stopped before
// the reload or restart (killed, or its link lost).
var unfinishedReasons = []string{
	"the running server does not run its config file",
	"the running server differs from its config file",
	"(an earlier apply did not finish",
}

// reportUnfinished emits, once the fresh plan is known, a warning per wave that an earlier
// apply left half done: which units have their files in place but not yet in effect, and
// which are stopped with their files in place, and which units of that wave already run what the inventory asks for. This apply finishes them.
func (r *run) reportUnfinished() {
	for _, w := range r.p.Waves {
		var pending, stopped, done []string
		for _, b := range w.Batches {
			for _, id := range b {
				u := r.p.Unit(id)
				switch {
				case u == nil:
				case unfinished(u):
					pending = append(pending, id)
				case u.Action == plan.Start && !u.Start && len(u.Files) == 0:
					stopped = append(stopped, id)
				}
			}
		}
		if len(pending) == 0 && len(stopped) == 0 {
			continue
		}
		for _, u := range r.p.Units {
			if string(u.Role) == string(w.Name) && !u.Changes() {
				done = append(done, u.ID())
			}
		}
		var parts []string
		if len(pending) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s its new files in place but not in effect", strings.Join(pending, ", "), haveOrHas(len(pending))))
		}
		if len(stopped) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s stopped with its files in place (a restart interrupted, or a crash)", strings.Join(stopped, ", "), isOrAre(len(stopped))))
		}
		msg := fmt.Sprintf("found the %s wave half done: %s", w.Name, strings.Join(parts, "; "))
		if len(done) > 0 {
			msg += fmt.Sprintf("; %s already %s the inventory's config", strings.Join(done, ", "), runOrRuns(len(done)))
		}
		r.emit(Event{Type: EventWarning, Phase: PhaseObserve, Wave: w.Name, Message: msg + "; this apply finishes the wave"})
	}
}

func unfinished(u *plan.Unit) bool {
	for _, why := range u.Reasons {
		for _, s := range unfinishedReasons {
			if strings.Contains(why, s) {
				return true
			}
		}
	}
	return false
}

func isOrAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func haveOrHas(n int) string {
	if n == 1 {
		return "has"
	}
	return "have"
}

func runOrRuns(n int) string {
	if n == 1 {
		return "runs"
	}
	return "run"
}
