package voice

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/estatepay/estatepay/shared/domain/announce"
)

// The committed clips are exactly the token list's, each a valid mono
// 16-bit WAV at SampleRate holding some sound and no more than 3 seconds.
func TestCommittedClipsMatchTheTokens(t *testing.T) {
	want := map[string]bool{}
	for _, c := range announce.Clips {
		want[c.Key+".wav"] = true
		b, ok := Clip(c.Key)
		if !ok {
			t.Errorf("no clip for %s (%s): run make voice", c.Key, c.Text)
			continue
		}
		p, err := Parse(b)
		if err != nil {
			t.Errorf("%s.wav: %v", c.Key, err)
			continue
		}
		if p.Rate != SampleRate || p.Seconds() < 0.1 || p.Seconds() > 3 {
			t.Errorf("%s.wav: %d Hz, %.2f s", c.Key, p.Rate, p.Seconds())
		}
		loud := false
		for _, s := range p.Samples {
			loud = loud || s > 2000 || s < -2000
		}
		if !loud {
			t.Errorf("%s.wav is silent", c.Key)
		}
	}
	files, _ := fs.Glob(clipFS, "clips/*")
	for _, f := range files {
		if !want[strings.TrimPrefix(f, "clips/")] {
			t.Errorf("%s is no token's clip", f)
		}
	}
	if len(Version()) != 12 {
		t.Errorf("version %q", Version())
	}
}

func TestWAVRoundTripTrimResample(t *testing.T) {
	p := PCM{Rate: 22050, Samples: []int16{0, 1, 0, 500, -800, 700, 0, 0, 2, 0}}
	q, err := Parse(p.Encode())
	if err != nil || q.Rate != 22050 || len(q.Samples) != 10 || q.Samples[4] != -800 {
		t.Fatalf("round trip: %+v %v", q, err)
	}
	tr := p.Trim(100, 1)
	if len(tr.Samples) != 5 || tr.Samples[0] != 0 || tr.Samples[1] != 500 {
		t.Errorf("trim: %v", tr.Samples)
	}
	if r := p.Resample(11025); r.Rate != 11025 || len(r.Samples) != 5 {
		t.Errorf("resample: %+v", r)
	}
	for _, bad := range [][]byte{nil, []byte("RIFF0000WAVE"), []byte("not a wav at all, not at all")} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
