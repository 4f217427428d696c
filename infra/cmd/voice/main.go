// Command voice generates the spoken announcements' clips (收款播报):
// for every token of announce.Clips it runs Debian's espeak-ng (voice cmn,
// Mandarin) and writes shared/voice/clips/<key>.wav, mono 16-bit PCM at
// voice.SampleRate with the silence at both ends trimmed. make voice runs
// it; the clips are committed (README, "Spoken payment announcements").
//
//	go run ./infra/cmd/voice [-out shared/voice/clips] [-espeak espeak-ng] [-speed 165]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/estatepay/estatepay/shared/domain/announce"
	"github.com/estatepay/estatepay/shared/voice"
)

func main() {
	out := flag.String("out", filepath.Join("shared", "voice", "clips"), "directory of the clips")
	bin := flag.String("espeak", "espeak-ng", "the espeak-ng binary")
	speed := flag.Int("speed", 165, "words per minute")
	flag.Parse()
	if _, err := exec.LookPath(*bin); err != nil {
		fmt.Fprintln(os.Stderr, "voice: espeak-ng not found; install it with: apt-get update && apt-get install -y espeak-ng")
		os.Exit(1)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fail(err)
	}
	total := 0
	for _, c := range announce.Clips {
		var wav, stderr bytes.Buffer
		cmd := exec.Command(*bin, "-v", "cmn", "-s", fmt.Sprint(*speed), "--stdout", c.Text)
		cmd.Stdout, cmd.Stderr = &wav, &stderr
		if err := cmd.Run(); err != nil {
			fail(fmt.Errorf("espeak-ng %s: %v: %s", c.Text, err, stderr.String()))
		}
		p, err := voice.Parse(wav.Bytes())
		if err != nil {
			fail(fmt.Errorf("espeak-ng %s: %w", c.Text, err))
		}
		p = p.Trim(300, p.Rate/50).Resample(voice.SampleRate)
		b := p.Encode()
		if err := os.WriteFile(filepath.Join(*out, c.Key+".wav"), b, 0o644); err != nil {
			fail(err)
		}
		total += len(b)
		fmt.Printf("%-9s %-6s %.2fs %6d bytes\n", c.Key, c.Text, p.Seconds(), len(b))
	}
	fmt.Printf("%d clips, %d bytes\n", len(announce.Clips), total)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "voice:", err)
	os.Exit(1)
}
