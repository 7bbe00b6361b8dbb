"""``chimein voices``: enrol the people who use chimein, so it knows their voices from the first word.

Without enrolment, participants are learned as they talk; enrolment also lets chimein ignore
quieter strangers (side talk, a TV) before anyone has spoken in a session.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chimein.home import chimein_home

DESCRIPTION = (
    "Enrol the people who use chimein, so it knows their voices (and how loud they usually are) from the "
    "first word of every session. Optional: people who are not enrolled are learned as they talk."
)

EPILOG = """\
examples:
  chimein voices add alice alice.wav        enrol Alice from a recording of her talking (3 s of speech or more)
  chimein voices list                        who is enrolled, with each voice's level
  chimein voices remove alice

Record at the distance and microphone you will use: chimein also learns how loud each person
usually is, and speech in an unknown voice well below that level is treated as background.
Enrolled voices live in $CHIMEIN_HOME/voices; a running server reads them at each new session.
"""


def voices_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="chimein voices", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, help="where enrolled voices live (default $CHIMEIN_HOME/voices)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    add = sub.add_parser("add", help="enrol a person from a recording of their voice")
    add.add_argument("name", help="who it is (1-40 letters, digits, spaces, '.', '_' or '-')")
    add.add_argument("audio", type=Path, help="a WAV/FLAC/OGG/MP3 recording of this person talking")
    sub.add_parser("list", help="list enrolled voices")
    remove = sub.add_parser("remove", help="forget an enrolled voice")
    remove.add_argument("name")
    args = parser.parse_args(argv)

    from chimein.perception.speakers import VoiceBook, VoiceBookError

    book = VoiceBook(args.dir or chimein_home() / "voices")
    if args.action == "add":
        from chimein.perception.audio import AudioDecodeError, decode_audio_file, resample
        from chimein.perception.speakers import EmbedderMissing, SpeakerEmbedder

        try:
            data = args.audio.read_bytes()
        except OSError as exc:
            print(f"chimein voices: cannot read {args.audio}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        try:
            audio, rate = decode_audio_file(data, None)
            voice = book.add(args.name, resample(audio, rate, 16000), SpeakerEmbedder.shared())
        except AudioDecodeError as exc:
            print(f"chimein voices: {args.audio} is not a WAV, FLAC, OGG or MP3 recording chimein can read ({exc})",
                  file=sys.stderr)
            return 2
        except (VoiceBookError, EmbedderMissing) as exc:
            print(f"chimein voices: {exc}", file=sys.stderr)
            return 2
        print(f"enrolled {voice.name} (speech level {voice.level_db:.1f} dBFS) in {book.folder}")
        return 0
    if args.action == "remove":
        try:
            removed = book.remove(args.name)
        except VoiceBookError as exc:
            print(f"chimein voices: {exc}", file=sys.stderr)
            return 2
        if not removed:
            print(f"chimein voices: no enrolled voice named {args.name!r} (see `chimein voices list`)", file=sys.stderr)
            return 1
        print(f"removed {args.name}")
        return 0
    if args.action == "list":
        voices = book.voices()
        if not voices:
            print(f"no enrolled voices in {book.folder} (participants are learned as they talk)")
        for voice in voices:
            print(f"{voice.name:<24} speech level {voice.level_db:6.1f} dBFS")
        return 0
    parser.print_help()
    return 0
