"""The `audit` command: audit one model, diff it against a table or a second model (its arguments are
`auditor.cli_args`).

Exit codes: 0 consistent, 1 a mismatch or difference was found, 2 bad usage or unreadable input
(one line on stderr, never a traceback unless --debug).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from auditor.batch import EXIT_BAD_INPUT, EXIT_MISMATCH, EXIT_OK, default_jobs, error_line, exit_code
from auditor.cli_args import UsageError, build_parser, memory_options
from auditor.errors import InputError
from auditor.options import AuditOptions, OptionError

MODEL_SUFFIXES = (".onnx", ".keras", ".h5", ".hdf5", ".pt2", ".pt", ".pth", ".safetensors", ".gguf", ".jit",
                  ".torchscript")
"""Files a folder scan audits; a `.bin` only when its content is a PyTorch file (ONNX external data is `.bin` too)."""
TABLE_SUFFIXES = (".csv", ".tsv", ".yaml", ".yml")
"""Files that are expectation tables, never models (a second one given without --expect gets a hint)."""

EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports for a writer whose reader closed the pipe (`audit ... | head`)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (0 consistent, 1 mismatch, 2 bad usage or input)."""
    # TensorFlow's start-up chatter is not our output; nn-auditor runs no TensorFlow numerics, so
    # oneDNN's kernels (whose notice cannot otherwise be silenced) change nothing it reports.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    args = None
    try:
        args = build_parser().parse_args(argv)
        return _run(args)
    except UsageError as err:
        print(f"audit: usage error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OptionError as err:
        print(f"audit: usage error: {err.flag} {err.value!r} {err.problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except InputError as err:
        print(f"audit: error: {error_line(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `audit ... | head`: the reader has what it wanted; no error line for that
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as err:  # the promise: one line, never a traceback (unless asked)
        if args is not None and args.debug:
            traceback.print_exc()
        print(f"audit: error: {error_line(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _discard_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail on the closed pipe again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file descriptor (replaced in-process): nothing to flush
        pass
    finally:
        os.close(devnull)


def _run(args: argparse.Namespace) -> int:
    if args.list_references:
        return _list_references()
    options = _adapter_options(args)
    if args.jobs < 0:
        raise UsageError(f"--jobs {args.jobs}: give a number of processes >= 1, or 0 for one per core")
    args.jobs = args.jobs or default_jobs()  # the number the summary reports
    specs = _expand(args.models)
    if not specs:
        raise UsageError("name a MODEL (or use --list-references)")
    if args.claim and (len(specs) != 1 or args.expect or args.each):
        raise UsageError("--claim explains one model's figure; give one MODEL (no --expect, no --each)")
    if args.each or len(specs) > 2 or (len(args.models) == 1 and os.path.isdir(args.models[0]) and specs != args.models):
        return _audit_each(specs, args, options)
    if len(specs) == 2:
        if args.expect:
            raise UsageError("--expect compares one model with a table; got two models")
        if specs[1].lower().endswith(TABLE_SUFFIXES):
            raise UsageError(f"{specs[1]} is an expectation table, not a model: audit {specs[0]} --expect {specs[1]}")
        return _diff_models(specs[0], specs[1], args, options)
    if options.per_side:
        raise UsageError("--left-*/--right-* options are for a diff of two models (audit LEFT RIGHT)")
    if args.expect:
        return _diff_table(specs[0], args, options)
    return _audit_one(specs[0], args, options)


def _adapter_options(args: argparse.Namespace) -> AuditOptions:
    """The command line's options, parsed once, as the API parses keyword arguments."""
    if args.depth == 0:
        raise UsageError("--depth 0 folds nothing: give N >= 1, or leave --depth out for one row per layer")
    return AuditOptions.parse(input_shape=args.input_shape, input_dtype=args.input_dtype, depth=args.depth,
                              strict=args.strict, exact=args.exact, debug=args.debug, **memory_options(args),
                              left_input_shape=args.left_input_shape, right_input_shape=args.right_input_shape,
                              left_input_dtype=args.left_input_dtype, right_input_dtype=args.right_input_dtype)


def _expand(models: list[str]) -> list[str]:
    """Folders expand to the model files inside them (sorted): known suffixes, and TorchScript archives by
    content whatever their extension; everything else stays as given."""
    from adapters.hf_json import is_model_folder

    specs: list[str] = []
    for spec in models:
        if os.path.isdir(spec) and is_model_folder(spec):
            specs.append(spec)  # a Hugging Face folder (config.json, a sharded index) is one model
        elif os.path.isdir(spec):
            found = sorted(os.path.join(spec, f) for f in os.listdir(spec) if _scanned(os.path.join(spec, f)))
            if not found:
                raise InputError(f"{spec}: folder holds no model files ({', '.join(MODEL_SUFFIXES)}, TorchScript)")
            specs.extend(found)
        else:
            specs.append(spec)
    return specs


def _scanned(path: str) -> bool:
    """A file a folder scan audits: a model suffix, a TorchScript archive (found by content, any name), or a
    `.bin` whose content is a PyTorch file."""
    from adapters.torchscript_archive import is_torchscript

    name = path.lower()
    if os.path.isfile(path) and is_torchscript(path):
        return True
    if name.endswith(".bin"):
        from adapters.state_dict import is_torch_file

        return is_torch_file(path)
    return name.endswith(MODEL_SUFFIXES) and os.path.isfile(path)


def _audit(spec: str, options: AuditOptions) -> Any:
    import auditor

    return auditor.audit(spec, options)


def _audit_one(spec: str, args: argparse.Namespace, options: AuditOptions) -> int:
    from auditor.report import render_audit

    claim = _claim(args.claim)
    if os.path.isdir(spec):
        from adapters.hf_json import folder_files

        config, weights = folder_files(spec)
        if config is not None and weights is not None:
            if claim is None:
                return _compare_checkpoint(_audit(config, options), _audit(weights, AuditOptions()), args)
            spec = config  # a claim is about the architecture the folder's config describes
    result = _audit(spec, options)
    if claim is not None:
        from auditor.claim import check_claim

        checked = check_claim(result, claim)
        sys.stdout.write(render_audit(result, args.format, depth=options.depth, claim=checked))
        return exit_code(result, options.strict) if checked.reproduced else EXIT_MISMATCH
    sys.stdout.write(render_audit(result, args.format, depth=options.depth))
    return exit_code(result, options.strict)


def _claim(text: str | None) -> Any:
    """The --claim figure, read once (a usage error, exit 2, when it is not a count)."""
    if text is None:
        return None
    from auditor.claim import parse_claim

    try:
        return parse_claim(text)
    except ValueError as err:
        raise UsageError(f"--claim {text!r} {err}") from None


def _audit_each(specs: list[str], args: argparse.Namespace, options: AuditOptions) -> int:
    """Audit every model on its own (in `--jobs` processes), in input order; a bad file is reported and the
    rest still run; a summary table closes the output."""
    import json
    import time

    from auditor.batch import Progress, outcomes
    from auditor.report.batch import render_summary, summary_dicts

    start, done = time.perf_counter(), []
    progress = Progress(len(specs), sys.stderr)
    try:
        for outcome in outcomes(specs, options, args.format, args.jobs, progress.advance):
            done.append(outcome)
            if outcome.error is not None:
                progress.write(outcome.details + f"audit: error: {outcome.error}")
            elif args.format not in ("json", "html"):
                sys.stdout.write(outcome.text + "\n")
    finally:
        progress.close()
    wall = time.perf_counter() - start
    if args.format == "json":
        document = {"schema": "nn-auditor/batch@1", "reports": [o.document for o in done], "summary": summary_dicts(done)}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    elif args.format == "html":
        from auditor.report.html import page, toolbar

        body = render_summary(done, "html", wall, args.jobs) + toolbar() + "".join(o.text for o in done)
        sys.stdout.write(page(f"nn-auditor: {len(done)} models", body))
    elif args.format != "csv":
        sys.stdout.write(render_summary(done, args.format, wall, args.jobs))
    return max(o.code for o in done)


def _diff_table(spec: str, args: argparse.Namespace, options: AuditOptions) -> int:
    from auditor.diff import diff_expectation
    from auditor.expect import read_table
    from auditor.report.diff import render_diff

    table = read_table(args.expect)
    result = diff_expectation(_audit(spec, options), table)
    sys.stdout.write(render_diff(result, args.format))
    return _diff_exit(result, options)


def _diff_models(left: str, right: str, args: argparse.Namespace, options: AuditOptions) -> int:
    from auditor.checkpoint import is_checkpoint
    from auditor.diff import diff_audits
    from auditor.report.diff import render_diff

    left_audit, right_audit = _audit(left, options.side("left")), _audit(right, options.side("right"))
    if is_checkpoint(left_audit) != is_checkpoint(right_audit):
        architecture, checkpoint = (right_audit, left_audit) if is_checkpoint(left_audit) else (left_audit, right_audit)
        return _compare_checkpoint(architecture, checkpoint, args)
    result = diff_audits(left_audit, right_audit)
    sys.stdout.write(render_diff(result, args.format))
    return _diff_exit(result, options)


def _diff_exit(result: Any, options: AuditOptions) -> int:
    """0 when the sides agree, or (without --exact) differ only by conventions and exporter rewrites."""
    if not result.differs or (result.equivalent and not options.exact):
        return EXIT_OK
    return EXIT_MISMATCH


def _compare_checkpoint(architecture: Any, checkpoint: Any, args: argparse.Namespace) -> int:
    """An architecture (config.json, a model) and a weight file: tensors paired by name, the delta explained."""
    import auditor
    from auditor.report.checkpoint import render_comparison

    result = auditor.compare_checkpoint(architecture, checkpoint)
    sys.stdout.write(render_comparison(result, args.format, depth=args.depth or 0))
    return EXIT_MISMATCH if result.differs or not architecture.consistent else EXIT_OK


def _list_references() -> int:
    try:
        from reference_models import list_references
    except ImportError as err:
        raise InputError(f"reference models are not available ({err})") from None
    references = list_references()
    width = max(len(ref.name) for ref in references)
    for ref in references:
        print(f"{ref.name:<{width}}  {ref.published_total:>12,}  {ref.description}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
