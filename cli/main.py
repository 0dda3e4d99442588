"""`fashion-edge`: one command, one sub-command per stage.

The parser knows every sub-command's flags, but a stage's code (and TensorFlow) is imported only
when that sub-command runs, so `--help`, `predict` and `info` stay light on a device.

Exit codes: 0 success; 1 the work failed (bad data, bad image, parity breach, tampered bundle);
2 usage error or a missing optional extra; 130 interrupted.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Callable, Sequence

from fashion_edge.runtime.backends import BACKENDS, device_extras
from fashion_edge.runtime.errors import FashionEdgeError
from fashion_edge.runtime.formats import DEFAULT_FORMAT, FORMATS
from fashion_edge.runtime.versions import version_of
from fashion_edge.train.models import MODELS


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr (not usage + error) and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _run_train(args: argparse.Namespace) -> int:
    """Fashion-MNIST, or an image folder when --data is one; the flags are checked before TensorFlow loads."""
    from fashion_edge.runtime.contract import Colour
    from fashion_edge.runtime.errors import DataError, UsageError
    from fashion_edge.runtime.recipes import Resize
    from fashion_edge.train.folder import is_image_folder
    from fashion_edge.train.models import INPUT_SHAPE, base_weights, check_input
    from fashion_edge.train.quiet_tf import import_tensorflow

    given = (("--image-size", args.image_size), ("--color", args.color), ("--resize", args.resize),
             ("--weights", args.weights))
    folder_flags = [flag for flag, value in given if value is not None]
    if args.name is not None and (Path(args.name).name != args.name or args.name in ("", ".", "..")):
        raise UsageError(f"--name takes a folder name, not a path: {args.name!r}")
    if args.data is not None and is_image_folder(args.data):
        from fashion_edge.train.folder_train import FolderTrainConfig, scan, train_folder

        if args.workers or args.worker_index is not None or args.limit:
            raise UsageError("--workers, --worker-index and --limit train on Fashion-MNIST only, not an image folder")
        weights = args.weights or ("imagenet" if MODELS[args.model].pretrainable else "none")
        config = FolderTrainConfig(model=args.model, data=args.data, out=Path(args.out), epochs=args.epochs,
                                   seed=args.seed, quick=args.quick, image_size=args.image_size,
                                   color=Colour(args.color or "rgb"), resize=Resize(args.resize or "stretch"),
                                   weights=base_weights(weights), name=args.name)
        folder = scan(config)
        import_tensorflow(verbose=args.verbose)
        result = train_folder(config, folder)
    else:
        from fashion_edge.train.cluster import Cluster
        from fashion_edge.train.trainer import TrainConfig, train

        if args.name:
            raise UsageError("--name names an image-folder model's artifacts folder; Fashion-MNIST models are "
                             "written to OUT/<model>")
        if folder_flags:
            if args.data is not None and not args.data.exists():
                raise DataError(f"{args.data}: no such folder")
            raise UsageError(f"{folder_flags[0]} applies only to an image folder (--data DIR holding DIR/<class>/ "
                             f"images); {args.data or 'Fashion-MNIST (no --data)'} is not one")
        check_input(args.model, INPUT_SHAPE)
        import_tensorflow(verbose=args.verbose)
        cluster = Cluster.from_flags(args.workers, args.worker_index)
        result = train(TrainConfig(model=args.model, out=Path(args.out), epochs=args.epochs, seed=args.seed,
                                   data_dir=args.data, limit=args.limit, quick=args.quick, cluster=cluster))
    workers = f" on {result.workers} workers" if result.workers > 1 else ""
    print(f"{args.model}: test accuracy {100 * result.test_accuracy:.2f}%, {result.params:,} parameters, "
          f"{result.epochs} epochs in {result.seconds:.0f} s{workers} -> {result.model_dir}")
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from fashion_edge.export.export_data import DataOptions
    from fashion_edge.export.exporter import ExportConfig, export
    from fashion_edge.export.sources import Normalisation, parse_values
    from fashion_edge.runtime.contract import Colour
    from fashion_edge.runtime.errors import UsageError
    from fashion_edge.runtime.recipes import Interpolation, Resize
    from fashion_edge.runtime.tasks_record import About

    if (args.mean is None) != (args.std is None):
        raise UsageError("--mean and --std go together (a model trained on (pixel - mean) / std)")
    normalisation = None if args.mean is None else Normalisation(parse_values(args.mean, "--mean"),
                                                                 parse_values(args.std, "--std", positive=True))
    data = DataOptions(resize=args.resize and Resize(args.resize),
                       interpolation=args.interpolation and Interpolation(args.interpolation),
                       colour=args.color and Colour(args.color), labels_file=args.labels,
                       skip_bad_images=args.skip_bad_images)
    about = About(args.description or "", args.model_version or "", args.author or "", args.licence or "")
    config = ExportConfig(model_dir=Path(args.source), data_dir=args.data, out=args.out, data=data,
                          normalisation=normalisation, enforce_gate=args.gate == "enforce", about=about)
    if args.formats:
        config = dataclasses.replace(config, formats=tuple(args.formats.split(",")))
    result = export(config)
    print(f"wrote {result.bundle}")
    return 0


def _run_verify(args: argparse.Namespace) -> int:
    from fashion_edge.export.verify import verify

    checks = verify(Path(args.bundle), data_dir=args.data)
    print(f"{args.bundle}: {len(checks)} formats verified")
    if args.mediapipe:
        return _verify_mediapipe(args)
    return 0


def _verify_mediapipe(args: argparse.Namespace) -> int:
    """MediaPipe's Python ImageClassifier on the Tasks-ready files, against the runtime, on the held-out images."""
    from fashion_edge.export.mediapipe_check import MIN_AGREEMENT, check, held_out
    from fashion_edge.runtime.extras import require

    require("mediapipe", "metadata", "running MediaPipe's ImageClassifier")
    frames, labels, photos = held_out(Path(args.bundle), args.data)
    failed = False
    for found in check(Path(args.bundle), frames, photos, labels):
        print("  " + found.describe())
        failed |= not found.passed
    if failed:
        print(f"fashion-edge: MediaPipe gives LiteRT's class on the same file on less than {100 * MIN_AGREEMENT:.0f}% "
              "of the held-out frames, or other labels", file=sys.stderr)
        return 1
    return 0


def _run_predict(args: argparse.Namespace) -> int:
    from fashion_edge.runtime.cli import run_predict

    return run_predict(args)


def _run_info(args: argparse.Namespace) -> int:
    from fashion_edge.runtime.cli import run_info

    return run_info(args)


def _run_serve(args: argparse.Namespace) -> int:
    from fashion_edge.runtime.service.server import run_serve

    return run_serve(args)


def _run_doctor(args: argparse.Namespace) -> int:
    from fashion_edge.runtime.doctor import run_doctor

    return run_doctor(args)


def _run_bench(args: argparse.Namespace) -> int:
    from fashion_edge.runtime.errors import UsageError

    if args.action:
        if args.action[0] != "compare" or len(args.action) != 3:
            raise UsageError("bench takes no arguments, or: bench compare A.json B.json")
        from fashion_edge.benchmarks.compare import compare
        from fashion_edge.benchmarks.results import Results

        print(compare(Results.load(Path(args.action[1])), Results.load(Path(args.action[2]))), end="")
        return 0
    from fashion_edge.benchmarks.results import write
    from fashion_edge.benchmarks.runner import DEFAULT_RATES, BenchConfig, run_bench

    bundles = args.bundle or [str(p) for p in sorted(Path(args.artifacts).glob("*/bundle"))]
    if not bundles:
        from fashion_edge.runtime.errors import BundleError

        raise BundleError(f"no bundles under {args.artifacts}/: run fashion-edge export first")
    if any(r <= 0 or r > 1000 for r in args.rate or []):
        raise UsageError("--rate takes a frame rate in Hz, above 0 and at most 1000")
    if args.min_accuracy is not None and not 0 <= args.min_accuracy <= 1:
        raise UsageError("--min-accuracy is a fraction, e.g. 0.93")
    below = []
    for bundle in bundles:
        config = BenchConfig(bundle=Path(bundle), quick=args.quick, data_dir=args.data,
                             rates=tuple(args.rate or DEFAULT_RATES), min_accuracy=args.min_accuracy)
        results = run_bench(config)
        folder = write(results, Path(bundle).parent / "bench")
        print(f"wrote {folder}/results.json, results.md, latency.png, pareto.png")
        below += [f"{results.model} {e.label}: {100 * e.accuracy:.2f}%" for e in results.failed]
    if below:
        print(f"fashion-edge bench: error: accuracy below --min-accuracy {args.min_accuracy}: " + "; ".join(below),
              file=sys.stderr)
        return 1
    return 0


def _run_pack(args: argparse.Namespace) -> int:
    from fashion_edge.deploy.pack import pack

    kit = pack(Path(args.bundle), extra=args.extra, out=Path(args.out), wheel=args.wheel, source=args.source)
    print(f"wrote {kit.path} ({kit.bytes / 1e6:.1f} MB, {kit.files} files, {kit.wheel}); on the Pi: "
          f"tar xzf {kit.path.name} && sudo {kit.path.name.removesuffix('.tar.gz')}/install.sh --enable-service")
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from fashion_edge.benchmarks.report import write_report

    path = write_report(Path(args.artifacts))
    print(f"wrote {path}")
    return 0


def _on_off(value: str) -> bool:
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError("use on or off")
    return value == "on"


def _spinning(value: str) -> bool | int:
    if value in ("on", "off"):
        return value == "on"
    digits = value.removesuffix("us")
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError("use on, off or a number of microseconds (e.g. 200)")
    return int(digits)


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """Engine options (runtime/options.py); unset ones take the backend's default from the registry."""
    p.add_argument("--threads", type=int, default=None, help="inference threads (default: the backend's, 1)")
    p.add_argument("--xnnpack", type=_on_off, default=None, metavar="on|off",
                   help="TFLite backends: XNNPACK delegate (default on)")
    p.add_argument("--spinning", type=_spinning, default=None, metavar="on|off|US",
                   help="onnxruntime: what an idle intra-op thread does: busy-wait (on), sleep (off), "
                        "or spin at most US microseconds, then sleep (default 200)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fashion-edge", description=__doc__.split("\n\n")[0],
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     epilog="exit codes: 0 ok, 1 failed, 2 usage error or missing extra, 130 interrupted")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's native logging (held back by default)")
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {version_of('fashion-edge') or '(not installed)'}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    from fashion_edge.runtime.contract import Colour
    from fashion_edge.runtime.recipes import Resize

    p = sub.add_parser("train", help="train a model on Fashion-MNIST or an image folder -> artifacts/<model>/")
    p.add_argument("--model", required=True, choices=list(MODELS))
    p.add_argument("--epochs", type=int, default=None,
                   help="default: the model's own (" + ", ".join(f"{k} {m.recipe.epochs}" for k, m in MODELS.items()) + ")")
    p.add_argument("--out", default="artifacts", help="artifacts folder (default: artifacts)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", type=Path, default=None,
                   help="an image folder (DIR/<class>/*.jpg|png, or DIR/train|val|test/<class>/...), or a folder with "
                        "Fashion-MNIST's four *-ubyte.gz files (default: $FASHION_MNIST_DIR, Debian's package, Keras)")
    p.add_argument("--name", default=None,
                   help="image folders: the artifacts folder under --out (default: the model's name)")
    p.add_argument("--image-size", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="image folder: the model's input size (default: " + ", ".join(
                       f"{k} {m.folder_size[0]}x{m.folder_size[1]}" for k, m in MODELS.items()) + ")")
    p.add_argument("--color", default=None, choices=[c.value for c in Colour], help="image folder: default rgb")
    p.add_argument("--resize", default=None, choices=[r.value for r in Resize],
                   help="image folder: meet --image-size's aspect by stretching (default, as Keras), cropping the "
                        "centre or padding with black")
    p.add_argument("--weights", default=None, metavar="imagenet|PATH|none",
                   help="mobilenet-*: the base's starting weights: ImageNet's (default; downloaded once), a "
                        ".weights.h5 file of the base, or none (random); pretrained bases train frozen for the "
                        "first half of the epochs, then fine-tune")
    p.add_argument("--quick", action="store_true",
                   help="the model's short recipe: a few minutes, for smoke tests and CI (passes the export gate)")
    p.add_argument("--workers", default=None, metavar="HOST:PORT,...",
                   help="train on a tf.distribute cluster: every worker process, in order (or set TF_CONFIG)")
    p.add_argument("--worker-index", type=int, default=None, help="this process's place in --workers (0 = chief)")
    p.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(run=_run_train)   # _run_train loads TensorFlow once the flags are checked

    p = sub.add_parser("export", help="export a Keras classifier -> a bundle (TFLite + ONNX), parity-gated",
                       description="Export a Keras image classifier (a .keras file, or a folder `fashion-edge train` "
                                   "wrote) to every format, each checked against Keras on held-out images.")
    p.add_argument("source", metavar="SOURCE", help="a .keras file, or a training artifacts folder (e.g. artifacts/edge)")
    p.add_argument("--data", type=Path, default=None, metavar="DIR",
                   help="an image folder (DIR/<class>/*.jpg, or DIR/train|val|test/<class>/...), or Fashion-MNIST's "
                        "IDX files (default: what training used, else Fashion-MNIST as train finds it)")
    p.add_argument("--out", type=Path, default=None, metavar="BUNDLE",
                   help="the bundle folder (default: SOURCE/bundle, or NAME-bundle beside NAME.keras)")
    p.add_argument("--formats", default=None, help=f"comma-separated subset of {', '.join(FORMATS)} (default: all)")
    p.add_argument("--resize", choices=["stretch", "crop", "pad"], default=None,
                   help="how a photo meets the model's aspect ratio (default: as training recorded, else stretch, "
                        "Keras' image_dataset_from_directory default)")
    p.add_argument("--interpolation", choices=["bilinear", "nearest", "bicubic", "lanczos", "box"], default=None,
                   help="the resize filter (default: as training recorded, else bilinear, as Keras)")
    p.add_argument("--color", choices=["rgb", "grayscale"], default=None,
                   help="default: from the model's channel count (3 rgb, 1 grayscale)")
    p.add_argument("--mean", default=None, metavar="M[,M,M]",
                   help="a model trained on (pixel - mean) / std, in 0..255 pixel units (e.g. 127.5); folded into "
                        "the exported graph, so the device still feeds uint8 pixels")
    p.add_argument("--std", default=None, metavar="S[,S,S]", help="with --mean")
    p.add_argument("--labels", type=Path, default=None, metavar="FILE",
                   help="class names, one per line in output order (default: the image folder's class names)")
    p.add_argument("--skip-bad-images", action="store_true",
                   help="leave out images that cannot be read (counted in the manifest) instead of failing")
    p.add_argument("--gate", choices=["enforce", "record"], default="enforce",
                   help="record: write the bundle even when a format breaches the parity gate, the verdict kept "
                        "in the manifest (experiments, device checks); default: enforce")
    about = p.add_argument_group("about the model", "written into the TFLite metadata, the manifest and the model "
                                                    "card (bundle/README.md)")
    about.add_argument("--description", default=None, help="what the model does (default: from its input and labels)")
    about.add_argument("--model-version", default=None, metavar="VERSION", help="the model's version (default: 1)")
    about.add_argument("--author", default=None, help="who made it (default: unknown)")
    about.add_argument("--licence", "--license", dest="licence", default=None,
                       help="its licence, e.g. Apache-2.0 (default: unspecified)")
    p.set_defaults(run=_run_export, tensorflow=True)

    p = sub.add_parser("verify", help="re-check a bundle: hashes, golden outputs, test-set accuracy")
    p.add_argument("bundle", help="e.g. artifacts/edge/bundle")
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--mediapipe", action="store_true",
                   help="also run MediaPipe's Python ImageClassifier on the Tasks-ready files over the held-out "
                        "frames and photos, against LiteRT on the same file and the runtime (exit 1 if it gives LiteRT's class on fewer than 99%% of the frames; needs fashion-edge[metadata])")
    p.set_defaults(run=_run_verify)

    p = sub.add_parser("predict", help="classify image files with a bundle (no TensorFlow needed)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--bundle", default="artifacts/edge/bundle")
    p.add_argument("--format", default=DEFAULT_FORMAT, choices=list(FORMATS), metavar="FORMAT",
                   help=f"one of {', '.join(FORMATS)} (default: {DEFAULT_FORMAT})")
    p.add_argument("--backend", default=None, choices=list(BACKENDS), metavar="BACKEND",
                   help=f"one of {', '.join(BACKENDS)} (default: the best installed for the format)")
    add_engine_options(p)
    p.add_argument("--json", action="store_true", help="one JSON object per image, one per line")
    p.add_argument("--probabilities", action="store_true", help="with --json: include all 10 probabilities")
    p.add_argument("--self-check", action="store_true",
                   help="first run the bundle's golden images; exit 1 if this backend disagrees with the export")
    p.set_defaults(run=_run_predict)

    p = sub.add_parser("info", help="what a bundle holds and which backends can run it here")
    p.add_argument("bundle")
    p.set_defaults(run=_run_info)

    p = sub.add_parser("bench", help="latency, CPU cost, cold start, memory, size, accuracy of every format/backend; "
                                     "`bench compare A.json B.json` sets two runs side by side")
    p.add_argument("action", nargs="*", metavar="compare A.json B.json", help="compare two results.json files")
    p.add_argument("--bundle", action="append", help="a bundle (repeatable; default: every artifacts/*/bundle)")
    p.add_argument("--artifacts", default="artifacts")
    p.add_argument("--quick", action="store_true", help="few runs: a smoke test, not a measurement")
    p.add_argument("--rate", type=float, action="append", metavar="HZ",
                   help="fixed-rate CPU cost at this frame rate (repeatable; default: 10 and 30)")
    p.add_argument("--min-accuracy", type=float, default=None, metavar="A",
                   help="fail (exit 1) when any entry's test accuracy is below A (a fraction)")
    p.add_argument("--data", type=Path, default=None)
    p.set_defaults(run=_run_bench, tensorflow=True)

    p = sub.add_parser("pack", help="one archive to copy to a Raspberry Pi: wheel, verified bundle, service, install.sh")
    p.add_argument("bundle", help="e.g. artifacts/edge/bundle")
    p.add_argument("--extra", default=device_extras()[0], choices=device_extras(), help="the backend the Pi installs")
    p.add_argument("--out", default="dist", help="folder for the archive (default: dist)")
    p.add_argument("--wheel", type=Path, default=None, help="a fashion-edge wheel (default: build one from --source)")
    p.add_argument("--source", type=Path, default=None, help="the fashion-edge source tree (default: the current folder)")
    p.set_defaults(run=_run_pack)

    p = sub.add_parser("serve", help="an HTTP service on this device (needs the [serve] extra)",
                       description="FastAPI on uvicorn: /healthz, /v1/info, POST /v1/classify, /metrics, /bundle/<file>, "
                                   "/ (the web app); OpenAPI schema at /openapi.json")
    p.add_argument("--bundle", default="artifacts/edge/bundle")
    p.add_argument("--format", default=DEFAULT_FORMAT, choices=list(FORMATS), metavar="FORMAT",
                   help=f"one of {', '.join(FORMATS)} (default: {DEFAULT_FORMAT})")
    p.add_argument("--backend", default=None, choices=list(BACKENDS), metavar="BACKEND",
                   help=f"one of {', '.join(BACKENDS)} (default: the best installed for the format)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 exposes it, and is logged)")
    p.add_argument("--port", type=int, default=8000, help="default 8000; 0 picks a free port (logged)")
    p.add_argument("--workers", type=int, default=None,
                   help="interpreters, one per worker thread (default: the number of cores)")
    p.add_argument("--queue", type=int, default=32,
                   help="classify requests that may wait for a worker; beyond that 503 + Retry-After (default 32)")
    p.add_argument("--max-body-mb", type=float, default=10.0, help="larger request bodies get 413 (default 10)")
    p.add_argument("--api-key-file", default=None,
                   help="file holding a key: every route but /healthz then needs 'Authorization: Bearer <key>'")
    p.add_argument("--web-root", default=None, metavar="DIR",
                   help="serve the web app from DIR instead of the installed one (development)")
    p.set_defaults(run=_run_serve)

    p = sub.add_parser("doctor", help="which backends work on this machine, checked on the bundle's golden data")
    p.add_argument("--bundle", default=None, help="default: artifacts/edge/bundle if it exists")
    p.add_argument("--json", action="store_true", help="one JSON object instead of the report")
    p.set_defaults(run=_run_doctor)

    p = sub.add_parser("report", help="(re)write artifacts/REPORT.md from what the stages wrote")
    p.add_argument("--artifacts", default="artifacts")
    p.set_defaults(run=_run_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        if getattr(args, "tensorflow", False):
            from fashion_edge.train.quiet_tf import import_tensorflow

            import_tensorflow(verbose=args.verbose)
        return run(args)
    except FashionEdgeError as exc:
        print(f"fashion-edge {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"fashion-edge {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:      # `fashion-edge info B | head`: the reader left; nothing to report
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
