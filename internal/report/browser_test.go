package report_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/risksync/risksync/internal/registry/registrytest"
	"github.com/risksync/risksync/internal/report"
)

const chromium = "/usr/bin/chromium"

// needChromium skips without a browser on a developer's machine; in CI
// (CI set), which installs it, a missing browser fails.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing and CI is set: install it with apt-get install -y chromium", chromium)
		}
		t.Skipf("%s is missing: the HTML report is not checked in a browser (apt-get install -y chromium)", chromium)
	}
}

// shoot renders page in headless Chromium and returns the screenshot and
// the console messages the page produced.
func shoot(t *testing.T, page []byte) (image.Image, []string) {
	t.Helper()
	dir := t.TempDir()
	htmlPath, shot := filepath.Join(dir, "report.html"), filepath.Join(dir, "report.png")
	if err := os.WriteFile(htmlPath, page, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Without the background-networking flags Chromium hangs on a closed network.
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--enable-logging=stderr", "--v=0", "--hide-scrollbars", "--screenshot="+shot, "--window-size=1200,1600", "file://"+htmlPath)
	var stderr bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	var console []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, ":CONSOLE") { // e.g. [..:INFO:CONSOLE:1] "message", source: file:///...
			console = append(console, line)
		}
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, stderr.String())
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("screenshot %s (%v)", shot, img.Bounds().Size())
	return img, console
}

// chartArea finds the pixels of the exposure line's colour and returns
// their bounding box, their count, and the share of non-white pixels in it.
func chartArea(img image.Image) (box image.Rectangle, line int, inked float64) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			if r > 180 && g > 40 && g < 110 && bl < 60 { // ChartColor #d9480f, antialiased
				line++
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	if line == 0 {
		return image.Rectangle{}, 0, 0
	}
	n := 0
	for y := box.Min.Y; y < box.Max.Y; y++ {
		for x := box.Min.X; x < box.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 < 245 || g>>8 < 245 || bl>>8 < 245 {
				n++
			}
		}
	}
	return box, line, float64(n) / float64(box.Dx()*box.Dy())
}

func TestHTMLInChromium(t *testing.T) {
	needChromium(t)
	s := buildRegistry(t, registrytest.Backends()["sqlite"])
	rep, err := report.Generate(context.Background(), deps(t, s), now, report.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := report.RenderHTML(&page, rep); err != nil {
		t.Fatal(err)
	}
	img, console := shoot(t, page.Bytes())
	if len(console) > 0 {
		t.Errorf("console messages:\n%s", strings.Join(console, "\n"))
	}
	box, line, inked := chartArea(img)
	t.Logf("chart: box %v, %d line pixels, %.0f%% inked", box, line, inked*100)
	// 26 weeks across ~790 px of plot: the line spans most of the chart's width.
	if line < 1000 || box.Dx() < 600 || box.Dy() < 60 || inked < 0.2 {
		t.Fatalf("the chart is not drawn: box %v, %d line pixels, %.2f inked", box, line, inked)
	}

	t.Run("controls", func(t *testing.T) {
		// The checks can fail: no data draws no line, and a console error is seen.
		empty := *rep
		empty.Exposure.Weeks = make([]report.ExposurePoint, len(rep.Exposure.Weeks))
		var buf bytes.Buffer
		if err := report.RenderHTML(&buf, &empty); err != nil {
			t.Fatal(err)
		}
		noisy := strings.Replace(buf.String(), "</body>", `<script>console.error("control")</script></body>`, 1)
		img, console := shoot(t, []byte(noisy))
		if _, line, _ := chartArea(img); line > 50 {
			t.Errorf("a chart without data has %d line pixels: the detector sees something else", line)
		}
		if len(console) != 1 || !strings.Contains(console[0], "control") {
			t.Errorf("console detector saw %q", console)
		}
	})
}
