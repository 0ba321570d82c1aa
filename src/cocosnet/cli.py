"""`cocosnet <command>`: one sub-command per module in `cocosnet.commands`, imported only when used."""

from __future__ import annotations

import argparse
import importlib
import sys

# command name -> module in cocosnet.commands exposing `add_arguments(parser)` and `run(args) -> int`
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "translate bundled landscapes layouts with exemplars into a results grid"),
    "translate": ("translate", "translate a semantic input with an exemplar"),
    "convert": ("convert", "convert official checkpoints to the native safetensors format"),
    "export": ("export", "export the network to ONNX / OpenVINO / torch.export, checked against PyTorch"),
    "landscapes": ("landscapes", "procedural landscapes: contact sheet, or a split with its answer key"),
    "prepare": ("prepare", "pose keypoints / face or photo edge maps for a folder of photos"),
    "prepare-dataset": ("prepare_dataset", "a data set for train/evaluate from a folder of photos (inputs, "
                        "train/val split, pair lists)"),
    "make-pairs": ("make_pairs", "write an exemplar pair list (key,ref1,ref2,...) for a data set"),
    "evaluate": ("evaluate", "measure a model or a baseline on a data set split (metrics, results table, grid)"),
    "serve": ("serve", "the interactive painter and image editor web app, with its JSON API"),
    "train": ("train", "train a preset (one process, or many GPUs/nodes under torchrun)"),
    "makeup": ("makeup", "warp a makeup layer drawn on one portrait onto others by a face correspondence"),
}


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """`--help` shows every option's default, also for options whose help text says nothing else."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or not action.option_strings or action.default is argparse.SUPPRESS:
            return text
        return f"{text} (default: %(default)s)"


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or (only=NAME) with the arguments of that command alone: the other command
    modules are not imported, so a command's input checks run before anything heavy (torch) loads."""
    parser = argparse.ArgumentParser(prog="cocosnet", description="Exemplar-based image translation (CoCosNet).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, formatter_class=DefaultsHelpFormatter)
        p.set_defaults(_module=module)
        if only is None or name == only:
            importlib.import_module(f"cocosnet.commands.{module}").add_arguments(p)
        for action in p._actions:  # argparse prints no help line (so no default) for an option without help text
            if action.help is None and action.option_strings and action.default is not argparse.SUPPRESS:
                action.help = "default: %(default)s"
    return parser


def requested_command(argv: list[str]) -> str | None:
    """The command named on the command line (the first word that is not an option), if it is one."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only=requested_command(argv) or "")
    args = parser.parse_args(argv)
    if getattr(args, "low_memory", False):
        from cocosnet.memory import request_tensor_huge_pages

        request_tensor_huge_pages()  # before the command imports torch
    module = importlib.import_module(f"cocosnet.commands.{args._module}")
    try:
        return int(module.run(args) or 0)
    except (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError, ValueError,
            KeyError, RuntimeError) as exc:
        # User-facing errors already name the file/shape/value (an unwritable output: `fileio.OutputPathError`, a
        # ValueError); no traceback for them.
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc  # str(KeyError) adds quotes
        print(f"cocosnet {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
