#!/usr/bin/env bash
# Real audio data sets for the benchmarks, built only from packages that install here.
#   bash bench/make_audio_data.sh [DIR] [--seconds=60] [--test=6] [--train=-1] [--rate=20480]
#                                 [--stereo] [--seed=0] [--skip_speech] [--skip_music]
# DIR (default datasets/, git-ignored; never commit it) receives:
#   speech/*.wav  spoken letters and syllables, 20 languages (Debian klettres-data), 16 kHz mono
#   noise/*.wav   environmental sounds: animals, vehicles, tools, instruments (Debian qabcs-data),
#                 16 kHz mono
#   musdb_synth/{train,test}/<song>/{mixture,vocals,drums,bass,other}.wav + stems.json:
#                 the openttd-openmsx MIDI songs rendered part by part (tinysoundfont with the
#                 General MIDI soundfont inside pretty_midi), the mixture the exact sum of the
#                 stems; "vocals" is a lead-melody stand-in (bench/audio_data/midi_stems.py says
#                 how parts map to stems). The --flags apply to this set: excerpt length from each
#                 song's start (0 = whole songs), songs in test and train (-1 = all the others),
#                 sample rate, stereo, shuffle seed.
# Installs what is missing: the Debian packages with apt-get as root (else apt-get download and
# dpkg-deb -x into DIR/.debs/root), and tinysoundfont and pretty_midi from PyPI with --no-deps
# into .venv (tinysoundfont's only dependency, pyaudio, is for live playback). Re-running keeps
# everything already built with the same settings. Ends with a summary that also checks the stems.
# Defaults take about 20 s on this machine (2 shared cores) once the packages (75 MB) are in.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
DIR=datasets
if [[ $# -gt 0 && $1 != --* ]]; then DIR=$1; shift; fi
speech=1 music=1 music_flags=()
for arg in "$@"; do
  case $arg in
    --skip_speech) speech=0 ;;
    --skip_music) music=0 ;;
    --seconds=*|--test=*|--train=*|--rate=*|--seed=*|--stereo|--nostereo) music_flags+=("$arg") ;;
    *) echo "make_audio_data.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
PY=python3
[[ -x $REPO/.venv/bin/python ]] && PY=$REPO/.venv/bin/python
NICE=(nice -n 10)
start_all=$SECONDS

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Prints where package $1's files are (/ or DIR/.debs/root), installing or unpacking it if needed.
apt_updated=0
package_root() {
  local pkg=$1
  if installed "$pkg"; then echo /; return; fi
  local local_root=$DIR/.debs/root
  if [[ -f $DIR/.debs/$pkg.unpacked ]]; then echo "$local_root"; return; fi
  if [[ $(id -u) == 0 ]] && command -v apt-get > /dev/null; then
    if [[ $apt_updated == 0 ]]; then "${NICE[@]}" apt-get update -qq >&2 || true; apt_updated=1; fi
    if DEBIAN_FRONTEND=noninteractive "${NICE[@]}" apt-get install -y -qq --no-install-recommends \
        "$pkg" >&2 && installed "$pkg"; then
      echo /; return
    fi
    echo "apt-get install $pkg failed; unpacking it under $local_root instead" >&2
  fi
  mkdir -p "$local_root"
  (cd "$DIR/.debs" && rm -f "${pkg}"_*.deb && apt-get download "$pkg" >&2) || {
    echo "cannot get the Debian package $pkg (apt-get download failed)" >&2; exit 1; }
  dpkg-deb -x "$DIR/.debs/${pkg}"_*.deb "$local_root"
  rm -f "$DIR/.debs/${pkg}"_*.deb
  touch "$DIR/.debs/$pkg.unpacked"
  echo "$local_root"
}

if [[ $speech == 1 ]]; then
  t=$SECONDS
  speech_root=$(package_root klettres-data)
  noise_root=$(package_root qabcs-data)
  "${NICE[@]}" "$PY" "$REPO/bench/audio_data/clips_to_wav.py" --kind=speech --root="$speech_root" \
    --out_dir="$DIR/speech"
  "${NICE[@]}" "$PY" "$REPO/bench/audio_data/clips_to_wav.py" --kind=noise --root="$noise_root" \
    --out_dir="$DIR/noise"
  echo "speech and noise: $((SECONDS - t)) s"
fi

if [[ $music == 1 ]]; then
  t=$SECONDS
  midi_root=$(package_root openttd-openmsx)
  has_soundfont="import importlib.util as u, sys; sys.exit(u.find_spec('pretty_midi') is None)"
  if ! "$PY" -c "import tinysoundfont" 2> /dev/null || ! "$PY" -c "$has_soundfont"; then
    "${NICE[@]}" "$PY" -m pip install -q --no-deps tinysoundfont pretty_midi
  fi
  "${NICE[@]}" "$PY" "$REPO/bench/audio_data/midi_stems.py" \
    --midi_dir="${midi_root%/}/usr/share/games/openttd/baseset/openmsx" \
    --out_dir="$DIR/musdb_synth" ${music_flags[@]+"${music_flags[@]}"}
  echo "musdb_synth: $((SECONDS - t)) s"
fi

"${NICE[@]}" "$PY" "$REPO/bench/audio_data/summarize.py" "$DIR"
echo "total: $((SECONDS - start_all)) s; on disk: $(du -sh "$DIR" | cut -f1)"
