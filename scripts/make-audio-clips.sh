#!/usr/bin/env bash
# Records the characters of the step-up challenges' answers, once per voice,
# into the clips that verifier/src/challenge/audio.rs mixes at request time.
#
#   scripts/make-audio-clips.sh    writes verifier/assets/audio/{en,fr}.{ulaw,index}
#
# Each clip is one character said by eSpeak NG the way its language names it
# ("W" is "double-u" in English, "double vé" in French), trimmed of its
# leading and trailing silence, compressed a little so quiet consonants stand
# out of the background noise, peak-normalized and stored as raw 8-bit
# G.711 mu-law, mono, 11025 Hz. A language's clips are concatenated into one
# .ulaw file; its .index says where each one is: "<voice> <char> <offset> <length>",
# offsets and lengths in samples (= bytes). Running it again gives the same bytes
# for the same versions of eSpeak NG and SoX.
set -euo pipefail

log() { printf 'make-audio-clips: %s\n' "$*" >&2; }

"$(dirname "${BASH_SOURCE[0]}")/deps.sh" audio

# Every character of challenge.rs's alphabets (NUMERIC, ALPHABETIC, ALPHANUMERIC).
CHARS="23456789ABCEFGHKLMNPRSTVWXYZ"
RATE=11025

# "<espeak-ng voice> <speed in words per minute> <pitch 0-99>" per language: a
# male and a female voice. The variants with breath noise (f2, f3, f5) leave
# long hissing tails, and m1 softens consonants, so they are left out; the
# verifier varies speed and pitch further when it mixes.
VOICES_en=("en+m3 155 40" "en-us+f1 150 55")
VOICES_fr=("fr+m3 155 45" "fr+f1 150 60")

# Trim digital silence (eSpeak NG pads with exact zeros), even out loud vowels
# and quiet consonants, downsample, fade the ends to avoid clicks, normalize.
# -D: no dither, so the output is repeatable.
EFFECTS=(silence 1 0.005 0.1% reverse silence 1 0.005 0.1% reverse
  norm -6 compand 0.002,0.08 -80,-80,-50,-28,-20,-12,0,-8 0 -90 0
  rate -v "$RATE" fade t 0.01 reverse fade t 0.005 reverse norm -1)

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/verifier/assets/audio"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for lang in en fr; do
  voices="VOICES_${lang}[@]"
  : >"$tmp/$lang.ulaw"
  {
    echo "# scripts/make-audio-clips.sh: $(espeak-ng --version | sed -E 's/.*: ([^ ]+) .*/eSpeak NG \1/'), $(sox --version | sed 's/.*: *//')"
    echo "# voice char offset length (samples of 8-bit mu-law, mono, $RATE Hz, in $lang.ulaw)"
  } >"$tmp/$lang.index"
  offset=0
  for spec in "${!voices}"; do
    read -r voice speed pitch <<<"$spec"
    for ((i = 0; i < ${#CHARS}; i++)); do
      c=${CHARS:i:1}
      espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$tmp/clip.wav" "$c"
      sox -D -V1 "$tmp/clip.wav" -e u-law -b 8 -t raw "$tmp/clip.ulaw" "${EFFECTS[@]}"
      length=$(stat -c %s "$tmp/clip.ulaw")
      cat "$tmp/clip.ulaw" >>"$tmp/$lang.ulaw"
      echo "$voice $c $offset $length" >>"$tmp/$lang.index"
      offset=$((offset + length))
    done
  done
  mv "$tmp/$lang.ulaw" "$tmp/$lang.index" "$out/"
  log "$lang: $offset samples ($(awk "BEGIN { printf \"%.1f\", $offset / $RATE }") s) in $out/$lang.ulaw"
done
