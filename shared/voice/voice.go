// Package voice holds the spoken payment announcements' audio clips (收款播报,
// issue 13): one short WAV per token of shared/domain/announce (Clips),
// generated at build time by infra/cmd/voice with Debian's espeak-ng (voice
// cmn) and committed, so building and testing need no espeak-ng. The pages
// play them one after another when the browser has no zh-CN voice (WeChat's
// WebView). Also the little WAV reading and writing the generator needs.
package voice

import (
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sync"

	"github.com/estatepay/estatepay/shared/domain/announce"
)

//go:embed clips/*.wav
var clipFS embed.FS

// SampleRate is the clips' rate (mono, 16-bit PCM): speech stays clear and
// the whole set is small.
const SampleRate = 11025

// Clip is the WAV of a clip key (announce.Clips), ok false when there is none.
func Clip(key string) ([]byte, bool) {
	b, err := clipFS.ReadFile("clips/" + key + ".wav")
	return b, err == nil
}

// Version is a short hash of the whole clip set: the pages put it in the
// clips' URLs, which are then cached for good.
var Version = sync.OnceValue(func() string {
	h := sha256.New()
	for _, c := range announce.Clips {
		b, _ := Clip(c.Key)
		h.Write([]byte(c.Key))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
})

// PCM is mono 16-bit audio.
type PCM struct {
	Rate    int
	Samples []int16
}

// ErrNotWAV is a file that is not a PCM WAV this package reads (RIFF/WAVE,
// format 1, 16-bit, mono).
var ErrNotWAV = errors.New("voice: not a mono 16-bit PCM WAV")

// Parse reads a mono 16-bit PCM WAV.
func Parse(b []byte) (PCM, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return PCM{}, ErrNotWAV
	}
	var p PCM
	haveFmt := false
	for i := 12; i+8 <= len(b); {
		id, size := string(b[i:i+4]), int(binary.LittleEndian.Uint32(b[i+4:i+8]))
		body := b[i+8:]
		if size > len(body) {
			size = len(body) // espeak-ng writing to a pipe leaves the sizes unset
		}
		body = body[:size]
		switch id {
		case "fmt ":
			if size < 16 || binary.LittleEndian.Uint16(body[0:2]) != 1 || binary.LittleEndian.Uint16(body[2:4]) != 1 ||
				binary.LittleEndian.Uint16(body[14:16]) != 16 {
				return PCM{}, ErrNotWAV
			}
			p.Rate, haveFmt = int(binary.LittleEndian.Uint32(body[4:8])), true
		case "data":
			if !haveFmt {
				return PCM{}, ErrNotWAV
			}
			p.Samples = make([]int16, size/2)
			for k := range p.Samples {
				p.Samples[k] = int16(binary.LittleEndian.Uint16(body[2*k:]))
			}
			return p, nil
		}
		i += 8 + size + size%2
	}
	return PCM{}, ErrNotWAV
}

// Encode writes p as a mono 16-bit PCM WAV.
func (p PCM) Encode() []byte {
	data := len(p.Samples) * 2
	b := make([]byte, 44+data)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+data))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], uint32(p.Rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(p.Rate*2))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(data))
	for i, s := range p.Samples {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(s))
	}
	return b
}

// Trim drops the silence (below threshold) at both ends, keeping pad
// samples of it on each side.
func (p PCM) Trim(threshold int16, pad int) PCM {
	loud := func(s int16) bool { return s > threshold || s < -threshold }
	start, end := 0, len(p.Samples)
	for start < end && !loud(p.Samples[start]) {
		start++
	}
	for end > start && !loud(p.Samples[end-1]) {
		end--
	}
	start, end = max(0, start-pad), min(len(p.Samples), end+pad)
	return PCM{Rate: p.Rate, Samples: p.Samples[start:end]}
}

// Resample converts p to rate by linear interpolation (a voice at 22,050 Hz
// down to SampleRate; the averaging of neighbours is the low-pass).
func (p PCM) Resample(rate int) PCM {
	if rate == p.Rate || len(p.Samples) == 0 {
		return p
	}
	n := int(int64(len(p.Samples)) * int64(rate) / int64(p.Rate))
	out := make([]int16, n)
	step := float64(p.Rate) / float64(rate)
	for i := range out {
		pos := float64(i) * step
		k := int(pos)
		// average the source samples this one covers
		hi := min(len(p.Samples), int(pos+step)+1)
		sum, cnt := 0, 0
		for j := k; j < hi; j++ {
			sum += int(p.Samples[j])
			cnt++
		}
		if cnt > 0 {
			out[i] = int16(sum / cnt)
		}
	}
	return PCM{Rate: rate, Samples: out}
}

// Seconds is the clip's length.
func (p PCM) Seconds() float64 { return float64(len(p.Samples)) / float64(p.Rate) }
