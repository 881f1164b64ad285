// Package webhook reads signed webhook deliveries the way GitHub and Jira
// admin webhooks sign them: "sha256=<hex HMAC-SHA256 of the raw body>". It is
// the one place that caps bodies, checks signatures (before any parsing) and
// names deliveries for replay detection.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// MaxBody is the largest delivery accepted; a larger one gets 413.
const MaxBody = 1 << 20

// Sign returns the signature header value for body.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// DeliveryID is the id under which a delivery is stored: the sender's own id
// when it gave one, else "sha256:<hex SHA-256 of the body>". Jira Data Center
// and hand-replayed deliveries carry no id header; deriving one from the
// bytes keeps them storable and still drops a replay of the same bytes.
func DeliveryID(header string, body []byte) string {
	if id := strings.TrimSpace(header); id != "" {
		return id
	}
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Valid reports, in constant time, whether header is "sha256=<hex>" and
// matches body. SHA-1 signatures are not accepted.
func Valid(secret, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// ReadSigned reads a POST body of at most MaxBody bytes and checks the
// signature in the named header. On any failure it answers the request
// (405, 413, 400 or 401) and returns false; the body is never parsed here.
func ReadSigned(w http.ResponseWriter, r *http.Request, secret []byte, header string, log *slog.Logger) ([]byte, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "payload over 1 MiB", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return nil, false
	}
	if !Valid(secret, body, r.Header.Get(header)) {
		log.Warn("webhook with a missing or wrong signature", "header", header, "remote", r.RemoteAddr)
		http.Error(w, "missing or wrong "+header, http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}
