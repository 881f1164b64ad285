package reconcile

import (
	"fmt"
	"strings"
	"time"
)

// The engine's own facts in the store's sync state, one key per fact. Keys
// are stable: databases written by earlier versions keep working.

// intentKey marks an epic create whose outcome is not yet recorded; its
// value is when the create was first attempted.
func intentKey(risk, tracker, target string) string {
	return "intent:" + risk + ":" + tracker + ":" + target
}

const intentPrefix = "intent:"

// parseIntentKey reads intentKey's parts; keys are "intent:RISK-n:tracker:target".
func parseIntentKey(k string) (risk, tracker, target string, ok bool) {
	rest, found := strings.CutPrefix(k, intentPrefix)
	if !found {
		return "", "", "", false
	}
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// closedKey records that risksync itself closed an epic: only such epics
// are ever reopened.
func closedKey(tracker, epic string) string { return "closed-by-risksync:" + tracker + ":" + epic }

// driftCommentKey marks the one explanatory comment on an epic a person edited.
func driftCommentKey(tracker, epic string) string { return "drift-comment:" + tracker + ":" + epic }

// backlogCommentKey marks the one comment on an epic a person moved in a
// backlog the registry orders.
func backlogCommentKey(tracker, epic string) string { return "backlog-comment:" + tracker + ":" + epic }

// intakeCommentKey marks the one problem comment on a postmortem.
func intakeCommentKey(tracker, postmortem string) string {
	return "intake-comment:" + tracker + ":" + postmortem
}

// intakeTableKey holds the hash of a postmortem table last applied.
func intakeTableKey(tracker, postmortem string, position int) string {
	return fmt.Sprintf("intake:%s:%s:%d", tracker, postmortem, position)
}

// intakeCursorKey holds the newest postmortem update read from a tracker.
func intakeCursorKey(tracker string) string { return intakeCursorPrefix + tracker }

const intakeCursorPrefix = "cursor:intake:"

// backoffKey holds a risk's failure streak and when it may be tried again.
func backoffKey(risk string) string { return "backoff:" + risk }

const backoffPrefix = "backoff:"

func formatStateTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseStateTime(v string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}
