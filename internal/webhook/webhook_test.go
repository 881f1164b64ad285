package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var secret = []byte("It's a Secret to Everybody")

func TestValid(t *testing.T) {
	body := []byte("Hello, World!")
	good := Sign(secret, body)
	// GitHub's documented example for this secret and body.
	if good != "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" {
		t.Fatalf("Sign = %s", good)
	}
	sha1mac := hmac.New(sha1.New, secret)
	sha1mac.Write(body)
	for name, tc := range map[string]struct {
		header string
		want   bool
	}{
		"valid":             {good, true},
		"valid with spaces": {" " + good + " ", true},
		"missing":           {"", false},
		"no prefix":         {strings.TrimPrefix(good, "sha256="), false},
		"wrong length":      {good[:len(good)-2], false},
		"not hex":           {"sha256=" + strings.Repeat("zz", 32), false},
		"sha1 only":         {"sha1=" + hex.EncodeToString(sha1mac.Sum(nil)), false},
		"wrong secret":      {Sign([]byte("other"), body), false},
		"other body":        {Sign(secret, []byte("Hello, World?")), false},
		"uppercase prefix":  {"SHA256=" + strings.TrimPrefix(good, "sha256="), false},
	} {
		if got := Valid(secret, body, tc.header); got != tc.want {
			t.Errorf("%s: Valid = %v, want %v", name, got, tc.want)
		}
	}
}

func TestReadSigned(t *testing.T) {
	body := []byte(`{"action":"opened"}`)
	for name, tc := range map[string]struct {
		method, sig string
		body        []byte
		want        int
	}{
		"valid":        {"POST", Sign(secret, body), body, 200},
		"bad":          {"POST", Sign([]byte("x"), body), body, 401},
		"missing":      {"POST", "", body, 401},
		"get":          {"GET", Sign(secret, body), body, 405},
		"too large":    {"POST", Sign(secret, bytes.Repeat([]byte("a"), MaxBody+1)), bytes.Repeat([]byte("a"), MaxBody+1), 413},
		"exactly 1MiB": {"POST", Sign(secret, bytes.Repeat([]byte("a"), MaxBody)), bytes.Repeat([]byte("a"), MaxBody), 200},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(tc.method, "/webhooks/x", bytes.NewReader(tc.body))
		req.Header.Set("X-Hub-Signature-256", tc.sig)
		got, ok := ReadSigned(rec, req, secret, "X-Hub-Signature-256", slog.New(slog.DiscardHandler))
		code := rec.Code
		if ok {
			code = http.StatusOK
			if !bytes.Equal(got, tc.body) {
				t.Errorf("%s: body changed", name)
			}
		}
		if code != tc.want {
			t.Errorf("%s: %d, want %d", name, code, tc.want)
		}
	}
}

func FuzzValid(f *testing.F) {
	f.Add([]byte("body"), "sha256=00")
	f.Add([]byte(""), Sign(secret, nil))
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		// Hex digits may be either case (the same MAC); the prefix may not.
		want := strings.TrimPrefix(Sign(secret, body), "sha256=")
		got, prefixed := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
		if Valid(secret, body, header) && !(prefixed && strings.EqualFold(got, want)) {
			t.Fatalf("accepted a signature that is not the body's: %q", header)
		}
		if !Valid(secret, body, Sign(secret, body)) {
			t.Fatal("rejected the body's own signature")
		}
	})
}

func TestDeliveryID(t *testing.T) {
	body := []byte("Hello, World!")
	derived := "sha256:dffd6021bb2bd5b0af676290809ec3a53191dd81c7f70a4b28688a362182986f"
	for name, tc := range map[string]struct {
		header string
		body   []byte
		want   string
	}{
		"sender's id":         {"72d3162e-cc78-11e3-81ab-4c9367dc0958", body, "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		"sender's id trimmed": {" abc ", body, "abc"},
		"missing":             {"", body, derived},
		"blank":               {"  ", body, derived},
		"empty body":          {"", nil, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	} {
		if got := DeliveryID(tc.header, tc.body); got != tc.want {
			t.Errorf("%s: DeliveryID = %q, want %q", name, got, tc.want)
		}
	}
	if DeliveryID("", []byte("Hello, World?")) == derived {
		t.Error("different bodies share a derived id")
	}
}
