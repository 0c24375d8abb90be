"""`python -m pipeline export`: write an export's model formats.

    export_command(["--export", DIR, "--format", "google,hf", "--out", OUT]) -> exit status

--export   an export folder (config.json, checkpoint/pretrainer.*, vocab.txt, saved_model/);
           the pipeline passes the newest export of the last phase when it is not given
--format   comma-separated subset of saved_model, google, hf (default: all three)
--out      where to write (default: into the export folder itself)

Exit 0 on success (one summary line on stdout), 2 on bad input (a partial
export, an unknown format, weights that do not fit their config) with one
message naming the file or variable, and nothing written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from components.model_formats import ModelFormatError


def parse_args(argv: Sequence[str], default_export: str | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline export", description=__doc__.split("\n")[0])
    parser.add_argument("--export", default=default_export, help="The export folder to read.")
    parser.add_argument(
        "--format", default="saved_model,google,hf", help="saved_model, google, hf (comma-separated)."
    )
    parser.add_argument("--out", default=None, help="Output folder (default: the export folder).")
    return parser.parse_args(list(argv))


def export_command(argv: Sequence[str], default_export: str | None = None) -> int:
    """Run the export; 0 on success, 2 on bad input (message on stderr)."""
    try:
        args = parse_args(argv, default_export)
    except SystemExit as stop:  # argparse: unknown options are errors, exit 2
        return int(stop.code or 0)
    if not args.export:
        print("error: no export folder: pass --export DIR (no train export found)", file=sys.stderr)
        return 2
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    from components.model_formats.package import export_folder

    try:
        summary = export_folder(args.export, args.out, formats)
    except ModelFormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"export": args.export, "out": args.out or args.export, **summary}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(export_command(sys.argv[1:]))
