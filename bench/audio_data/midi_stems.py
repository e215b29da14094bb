r"""Music with true stems: MIDI songs rendered part by part, MUSDB18-HQ layout.

  python bench/audio_data/midi_stems.py --midi_dir=/usr/share/games/openttd/baseset/openmsx \
      --out_dir=datasets/musdb_synth --seconds=60 --test=6

Writes OUT_DIR/{train,test}/<song>/{mixture,vocals,drums,bass,other}.wav (what
data/musdb.py reads; 16-bit, mono unless --stereo, at --rate) and a stems.json
per track saying which MIDI channel (1-based, 10 = drums) went to which stem
and with which program (0-based General MIDI number). Songs are split into
train and test by song (a seeded shuffle), so no song is in both.

Each stem is rendered by its own synthesizer (tinysoundfont, the General MIDI
soundfont shipped inside the pretty_midi wheel) fed only the events of its
channels. The mixture is the sample-exact sum of the four stems as stored: the
stems are quantized to 16 bits first and the mixture is their integer sum, so
mixture.wav == drums + bass + other + vocals holds exactly when read back as
floats (a full render of the song is not sample-equal to that sum: voice
stealing and rounding differ).

Channel -> stem rule (one MIDI channel is one part; decided on the rendered
excerpt only):
- drums: MIDI channel 10 (index 9), the General MIDI percussion channel.
- bass: the melodic channels playing a bass line: main program a bass (33-40
  in 1-based GM numbers, 32-39 here) with a mean pitch below G3 (MIDI key 55;
  some songs play the tune on a bass patch), or any program with a mean pitch
  below E2 (key 40); if there is none, the melodic channel with the lowest mean
  pitch when that mean is below C3 (key 48).
- vocals: MIDI songs have no voice, so this is a lead-melody stand-in: of the
  remaining channels sounding for at least a quarter of the excerpt (all of
  them if none does), the one that ranks highest by (lead program: voices
  52-54, brass, reeds, pipes and synth leads 56-87; mean pitch), i.e. the
  highest part, a lead instrument first.
- other: every remaining channel (may be silent in songs with few parts).
Songs whose drums, bass or vocals would sound for less than a tenth of the
excerpt are skipped and named in the log.

Levels: one gain per track brings the loudest of the mixture and the stems to
0.9 full scale (the stems keep their relative levels). The last 50 ms fade out
identically in every stem, so the cut at the excerpt's end does not click.
"""

import dataclasses
import importlib.util
import json
import os
import random
import shutil
import sys
import time

from absl import app
from absl import flags
from absl import logging
import numpy as np
import soundfile
import tinysoundfont
from tinysoundfont import midi

FLAGS = flags.FLAGS
flags.DEFINE_string("midi_dir", "/usr/share/games/openttd/baseset/openmsx",
                    "Folder of .mid files (openttd-openmsx).")
flags.DEFINE_string("out_dir", "datasets/musdb_synth", "MUSDB18-HQ root to write.")
flags.DEFINE_string("soundfont", None,
                    "A .sf2 file; default: TimGM6mb.sf2 inside the pretty_midi package.")
flags.DEFINE_float("seconds", 60.0, "Excerpt length from each song's start; 0 = whole songs.")
flags.DEFINE_integer("rate", 20480, "Sample rate of the wav files (Hz); the paper uses 20480.")
flags.DEFINE_bool("stereo", False,
                  "Write stereo files (the synthesizer's panning) instead of mono.")
flags.DEFINE_integer("test", 6, "Songs in the test subset.")
flags.DEFINE_integer("train", -1, "Songs in the train subset; -1 = all the others.")
flags.DEFINE_integer("seed", 0, "Seed of the song shuffle that picks the subsets.")

STEMS = ("vocals", "drums", "bass", "other")
DRUM_CHANNEL = 9
BASS_PROGRAMS = range(32, 40)
LEAD_PROGRAMS = set(range(52, 55)) | set(range(56, 88))
BASS_MAX_MEAN_KEY = 48
BASS_PROGRAM_MAX_MEAN_KEY = 55
LOW_MAX_MEAN_KEY = 40
LEAD_MIN_SOUNDING = 0.25
STEM_MIN_SOUNDING = 0.1
PEAK = 0.9
FADE_SECONDS = 0.05
TAIL_SECONDS = 2.0  # Decay kept after the last event when whole songs are rendered.
FORMAT_VERSION = 1  # Bump when the rendering changes, so old tracks are rebuilt.


@dataclasses.dataclass
class Part:
  """One MIDI channel's notes inside the excerpt.

  Attributes:
    channel: 0-based MIDI channel.
    program: the program sounding the most notes (0-based GM number).
    notes: number of notes starting in the excerpt.
    sounding: seconds during which at least one of its notes sounds.
    mean_key: mean MIDI key of its notes.
  """
  channel: int
  program: int
  notes: int
  sounding: float
  mean_key: float


def default_soundfont():
  """Path of the General MIDI soundfont inside the installed pretty_midi package."""
  spec = importlib.util.find_spec("pretty_midi")  # Locates it without importing it.
  if spec is None or not spec.submodule_search_locations:
    raise SystemExit("pretty_midi is not installed: pip install --no-deps pretty_midi "
                     "(only its TimGM6mb.sf2 is used), or pass --soundfont")
  path = os.path.join(list(spec.submodule_search_locations)[0], "TimGM6mb.sf2")
  if not os.path.isfile(path):
    raise SystemExit(f"{path}: the soundfont is missing from the pretty_midi package; "
                     "pass --soundfont")
  return path


def song_end(events):
  """Seconds of the last event."""
  return max((e.t for e in events), default=0.0)


def analyse_parts(events, seconds):
  """Per-channel statistics of the notes starting before `seconds`.

  Args:
    events: tinysoundfont.midi events, sorted by time (seconds).
    seconds: excerpt length.

  Returns:
    dict channel -> Part, for channels with at least one note.
  """
  program = {}
  sounding = {}  # channel -> {key: start} of notes now on.
  notes = {}  # channel -> list of (start, end, key, program).
  for e in events:
    a, ch = e.action, e.channel
    if isinstance(a, midi.ProgramChange):
      program[ch] = a.program
    elif isinstance(a, midi.NoteOn) and a.velocity > 0:
      if e.t >= seconds:
        continue
      on = sounding.setdefault(ch, {})
      if a.key in on:  # Retriggered without a note-off: close the old one.
        notes.setdefault(ch, []).append((on[a.key][0], e.t, a.key, on[a.key][1]))
      on[a.key] = (e.t, program.get(ch, 0))
    elif isinstance(a, (midi.NoteOff, midi.NoteOn)):
      on = sounding.get(ch, {})
      if a.key in on:
        start, prog = on.pop(a.key)
        notes.setdefault(ch, []).append((start, e.t, a.key, prog))
  end = song_end(events)
  for ch, on in sounding.items():
    for key, (start, prog) in on.items():
      notes.setdefault(ch, []).append((start, end, key, prog))
  parts = {}
  for ch, chan_notes in notes.items():
    programs = [n[3] for n in chan_notes]
    main_program = max(set(programs), key=programs.count)
    covered, last = 0.0, 0.0
    for start, stop, _, _ in sorted(chan_notes):
      stop = min(stop, seconds)
      if stop > max(start, last):
        covered += stop - max(start, last)
      last = max(last, stop)
    parts[ch] = Part(ch, main_program, len(chan_notes), covered,
                     float(np.mean([n[2] for n in chan_notes])))
  return parts


def assign_stems(parts, seconds):
  """Channel -> stem name, by the rule in the module docstring.

  Args:
    parts: dict from analyse_parts.
    seconds: excerpt length.

  Returns:
    dict channel -> stem name, and the list of stems that sound for less than
    STEM_MIN_SOUNDING of the excerpt (no channel, or too little).
  """
  stem_of = {}
  if DRUM_CHANNEL in parts:
    stem_of[DRUM_CHANNEL] = "drums"
  melodic = [p for ch, p in sorted(parts.items()) if ch != DRUM_CHANNEL]
  bass = [p for p in melodic
          if (p.program in BASS_PROGRAMS and p.mean_key < BASS_PROGRAM_MAX_MEAN_KEY) or
          p.mean_key < LOW_MAX_MEAN_KEY]
  if not bass and melodic:
    lowest = min(melodic, key=lambda p: p.mean_key)
    if lowest.mean_key < BASS_MAX_MEAN_KEY:
      bass = [lowest]
  for p in bass:
    stem_of[p.channel] = "bass"
  rest = [p for p in melodic if p.channel not in stem_of]
  candidates = [p for p in rest if p.sounding >= LEAD_MIN_SOUNDING * seconds] or rest
  if candidates:
    lead = max(candidates, key=lambda p: (p.program in LEAD_PROGRAMS, p.mean_key))
    stem_of[lead.channel] = "vocals"
  for p in rest:
    stem_of.setdefault(p.channel, "other")
  missing = [s for s in STEMS
             if max([parts[ch].sounding for ch, t in stem_of.items() if t == s], default=0.0)
             < STEM_MIN_SOUNDING * seconds]
  return stem_of, missing


def _send(synth, event):
  """Applies one MIDI event to a synthesizer."""
  a, ch = event.action, event.channel
  if isinstance(a, midi.NoteOn):
    synth.noteon(ch, a.key, a.velocity)
  elif isinstance(a, midi.NoteOff):
    synth.noteoff(ch, a.key)
  elif isinstance(a, midi.ControlChange):
    synth.control_change(ch, a.control, a.control_value)
  elif isinstance(a, midi.ProgramChange):
    try:
      synth.program_change(ch, a.program, ch == DRUM_CHANNEL)
    except RuntimeError:  # A program the soundfont lacks: keep the current one.
      logging.debug("channel %d: program %d not in the soundfont", ch, a.program)
  elif isinstance(a, midi.PitchBend):
    synth.pitchbend(ch, a.pitch_bend)


def render(events, channels, soundfont, rate, samples):
  """Renders the events of some channels alone.

  Args:
    events: sorted tinysoundfont.midi events (times in seconds).
    channels: the 0-based MIDI channels to play; others are ignored.
    soundfont: .sf2 path.
    rate: Hz.
    samples: output length.

  Returns:
    [samples, 2] float32 (the synthesizer's stereo output).
  """
  out = np.zeros((samples, 2), np.float32)
  if not channels:
    return out
  synth = tinysoundfont.Synth(samplerate=rate)
  sfid = synth.sfload(soundfont)
  for ch in range(16):  # Start from GM defaults: piano, and the drum kit on channel 10.
    synth.program_select(ch, sfid, 128 if ch == DRUM_CHANNEL else 0, 0,
                         is_drums=ch == DRUM_CHANNEL)
  view = memoryview(out).cast("B")
  frame = out.shape[1] * out.itemsize
  pos = 0
  for event in events:
    if event.channel not in channels:
      continue
    at = min(samples, int(round(event.t * rate)))
    if at > pos:
      synth.generate_simple(at - pos, buffer=view[pos * frame:at * frame])
      pos = at
    if pos >= samples:
      break
    _send(synth, event)
  if pos < samples:
    synth.generate_simple(samples - pos, buffer=view[pos * frame:])
  return out


def to_int16_stems(stems, rate, stereo):
  """Fades, scales and quantizes float stems; the mixture is their integer sum.

  Args:
    stems: dict stem -> [samples, 2] float32.
    rate: Hz (for the fade length).
    stereo: keep two channels; else average them.

  Returns:
    dict name -> [samples] or [samples, 2] int16 (the four stems and "mixture"),
    and the gain applied.
  """
  samples = next(iter(stems.values())).shape[0]
  fade = np.ones(samples, np.float32)
  n = min(samples, int(FADE_SECONDS * rate))
  if n:
    fade[samples - n:] = 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, n, dtype=np.float32))
  shaped = {}
  for name, audio in stems.items():
    audio = audio * fade[:, None]
    shaped[name] = audio if stereo else audio.mean(axis=1)
  mix = np.sum(list(shaped.values()), axis=0)
  peak = max([float(np.max(np.abs(mix)))] + [float(np.max(np.abs(a))) for a in shaped.values()])
  gain = PEAK / peak if peak > 0 else 1.0
  out = {name: np.round(a * (gain * 32767.0)).astype(np.int16) for name, a in shaped.items()}
  total = np.sum([a.astype(np.int32) for a in out.values()], axis=0)
  # Rounding moves each stem by at most half a step, so the sum stays in range.
  assert np.max(np.abs(total)) <= 32767, "mixture beyond 16 bits"
  out["mixture"] = total.astype(np.int16)
  return out, gain


def _settings(soundfont, seconds, rate, stereo):
  return {"format_version": FORMAT_VERSION, "soundfont": os.path.basename(soundfont),
          "seconds": seconds, "rate": rate, "stereo": stereo}


def _is_done(track_dir, settings):
  info_path = os.path.join(track_dir, "stems.json")
  if not os.path.isfile(info_path):
    return False
  try:
    with open(info_path) as f:
      info = json.load(f)
  except (OSError, ValueError):
    return False
  return (info.get("settings") == settings and
          all(os.path.isfile(os.path.join(track_dir, f"{s}.wav")) for s in STEMS + ("mixture",)))


def plan_songs(midi_dir, seconds):
  """Reads and analyses every song; returns the usable ones and the skipped ones.

  Returns:
    (songs, skipped): songs is a list of dicts (name, path, events, samples_s,
    stem_of, parts) sorted by name; skipped a list of (name, reason).
  """
  paths = sorted(os.path.join(midi_dir, n) for n in os.listdir(midi_dir)
                 if n.lower().endswith((".mid", ".midi")))
  if not paths:
    raise SystemExit(f"{midi_dir}: no .mid files")
  songs, skipped = [], []
  for path in paths:
    name = os.path.splitext(os.path.basename(path))[0]
    try:
      events = midi.load(path)
    except (RuntimeError, ValueError, OSError) as error:
      skipped.append((name, f"unreadable MIDI: {error}"))
      continue
    length = seconds if seconds > 0 else song_end(events) + TAIL_SECONDS
    parts = analyse_parts(events, length)
    stem_of, missing = assign_stems(parts, length)
    missing = [m for m in missing if m != "other"]
    if missing:
      skipped.append((name, f"{', '.join(missing)} silent or nearly so in the first "
                             f"{length:.0f} s"))
      continue
    songs.append({"name": name, "path": path, "events": events, "seconds": length,
                  "stem_of": stem_of, "parts": parts})
  return songs, skipped


def split_songs(songs, test, train, seed):
  """{subset: songs} by a seeded shuffle: its first `test` songs to test, then `train` to train."""
  order = sorted(songs, key=lambda s: s["name"])
  random.Random(seed).shuffle(order)
  if test > len(order):
    raise SystemExit(f"--test={test}: only {len(order)} usable songs")
  rest = order[test:]
  if train >= 0:
    if train > len(rest):
      raise SystemExit(f"--train={train}: only {len(rest)} usable songs left after --test={test}")
    rest = rest[:train]
  return {"test": sorted(order[:test], key=lambda s: s["name"]),
          "train": sorted(rest, key=lambda s: s["name"])}


def write_track(song, track_dir, soundfont, rate, stereo, settings):
  """Renders one song's stems and writes the track folder atomically."""
  samples = int(round(song["seconds"] * rate))
  stems = {}
  for stem in STEMS:
    channels = {ch for ch, s in song["stem_of"].items() if s == stem}
    stems[stem] = render(song["events"], channels, soundfont, rate, samples)
  audio, gain = to_int16_stems(stems, rate, stereo)
  tmp = track_dir + ".tmp"
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  for name, data in audio.items():
    soundfile.write(os.path.join(tmp, f"{name}.wav"), data, rate, subtype="PCM_16", format="WAV")
  info = {"settings": settings, "source": os.path.basename(song["path"]), "gain": gain,
          "channels": {str(ch + 1): {"stem": song["stem_of"][ch], "program": p.program,
                                     "notes": p.notes, "sounding_s": round(p.sounding, 2),
                                     "mean_key": round(p.mean_key, 1)}
                       for ch, p in sorted(song["parts"].items())}}
  with open(os.path.join(tmp, "stems.json"), "w") as f:
    json.dump(info, f, indent=1)
  shutil.rmtree(track_dir, ignore_errors=True)
  os.replace(tmp, track_dir)


def remove_stale(out_dir, planned):
  """Deletes track folders this tool wrote that the current plan does not hold."""
  for subset in ("train", "test"):
    subset_dir = os.path.join(out_dir, subset)
    if not os.path.isdir(subset_dir):
      continue
    for entry in os.listdir(subset_dir):
      path = os.path.join(subset_dir, entry)
      ours = os.path.isfile(os.path.join(path, "stems.json")) or entry.endswith(".tmp")
      if os.path.isdir(path) and ours and (subset, entry) not in planned:
        logging.info("removing %s (not in this plan)", path)
        shutil.rmtree(path)


def main(argv):
  del argv
  soundfont = FLAGS.soundfont or default_soundfont()
  if not os.path.isdir(FLAGS.midi_dir):
    raise SystemExit(f"{FLAGS.midi_dir}: MIDI folder not found (apt-get install openttd-openmsx)")
  settings = _settings(soundfont, FLAGS.seconds, FLAGS.rate, FLAGS.stereo)
  songs, skipped = plan_songs(FLAGS.midi_dir, FLAGS.seconds)
  for name, reason in skipped:
    logging.warning("%s: skipped (%s)", name, reason)
  subsets = split_songs(songs, FLAGS.test, FLAGS.train, FLAGS.seed)
  planned = {(subset, s["name"]) for subset, group in subsets.items() for s in group}
  remove_stale(FLAGS.out_dir, planned)
  start = time.perf_counter()
  made = kept = 0
  for subset, group in subsets.items():
    for song in group:
      track_dir = os.path.join(FLAGS.out_dir, subset, song["name"])
      if _is_done(track_dir, settings):
        kept += 1
        continue
      write_track(song, track_dir, soundfont, FLAGS.rate, FLAGS.stereo, settings)
      made += 1
      lead = [ch for ch, s in song["stem_of"].items() if s == "vocals"][0]
      logging.info("%s/%s: %.0f s rendered; vocals = channel %d (program %d)", subset,
                   song["name"], song["seconds"], lead + 1, song["parts"][lead].program)
  logging.info("musdb_synth: %d tracks rendered, %d already there, %d songs skipped, %.1f s",
               made, kept, len(skipped), time.perf_counter() - start)


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  sys.exit(app.run(main))
