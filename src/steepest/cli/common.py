"""What every command shares: the consoles, error handling, JSON output, figure output, and
the configuration options (each names a dotted path of the run config)."""

import functools
import inspect
import json
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import InputError, SteepestError

# Piped output keeps whole table rows: Rich would otherwise cut them at 80 columns.
console = Console()
if not console.is_terminal:
    console.width = max(console.width, 200)
err = Console(stderr=True, soft_wrap=True)

def flag(*decls, help: str = ""):
    """A boolean option, shown without a type in the help (``--json``, not ``--json <bool>``)."""
    return typer.Option(*decls, help=help, metavar="")


JsonOpt = Annotated[bool, flag("--json", help="print one JSON object on stdout")]
FormatOpt = Annotated[str, typer.Option("--format", help="figure format: png, svg or pdf")]
DpiOpt = Annotated[int, typer.Option("--dpi", help="resolution of PNG figures")]
TensorBoardOpt = Annotated[Path | None, typer.Option(
    "--tensorboard", help="also log to TensorBoard in this folder, one sub-folder per run "
                          "(pip install 'steepest[tensorboard]'; view with tensorboard "
                          "--logdir DIR)")]


def tensorboard_logger(logdir: Path | None, per_run: bool = False):
    """The TensorBoard callback (or a per-run factory of them) for ``--tensorboard``; None
    without the option. Made before any training, so a missing writer stops at once."""
    if logdir is None:
        return None
    from ..tensorboard import TensorBoardLogger

    return TensorBoardLogger.per_run(logdir) if per_run else TensorBoardLogger(logdir)

EXIT_CODES = ("exit status: 0 done; 1 a gradient check failed; 2 bad input (one line names "
              "the value); 3 the run diverged")


# ----------------------------------------------------------------------------- output
def emit_json(obj) -> None:
    """One strict-JSON object on stdout (NaN and infinities as null)."""
    from ..results import finite_or_none  # NumPy is imported only by commands that need it

    sys.stdout.write(json.dumps(finite_or_none(obj), indent=2, allow_nan=False) + "\n")


def boundary(fn):
    """Turn the library's deliberate errors into one clear line and exit status 2 (a JSON
    object with the message and the status under ``--json``)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (SteepestError, typer.BadParameter) as e:
            message = e.format_message() if isinstance(e, typer.BadParameter) else str(e)
            if kwargs.get("as_json"):
                emit_json({"error": message, "exit_code": 2})
            else:
                err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


def save_figures(figures: dict, out_dir: Path, format: str, dpi: int) -> list[Path]:
    """Write the figures as ``out_dir/<name>.<format>`` (checked before anything is drawn)."""
    from ..viz import save_figures as write

    return write(figures, out_dir, format=format, dpi=dpi)


def check_format(format: str, dpi: int) -> None:
    from ..viz import FORMATS

    if format not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    if dpi < 10 or dpi > 1200:
        raise InputError(f"--dpi must be between 10 and 1200, got {dpi}")


def parse_list(text: str, convert=int, what: str = "--hidden") -> list:
    """``"256,128"`` as ``[256, 128]``; an empty string is an empty list."""
    text = text.strip()
    if not text:
        return []
    try:
        return [convert(v) for v in text.split(",")]
    except ValueError:
        raise InputError(f"{what} must be comma-separated {convert.__name__}s like 256,128, "
                         f"got {text!r}") from None


# ----------------------------------------------------------------------------- config options
@dataclass(frozen=True)
class ConfigOption:
    """A command-line option that sets one dotted path of the run configuration."""

    flags: tuple[str, ...]
    path: str
    kind: type = str
    convert: Callable[[Any], Any] | None = None  # from the parsed option to the config value
    help: str = ""

    @property
    def param(self) -> str:
        return "cfg_" + self.flags[0].lstrip("-").replace("-", "_")

    def help_text(self) -> str:
        from .schema import FIELDS  # a snapshot of the config schema: no pydantic at --help

        default, choices, description = FIELDS[self.path]
        parts = [self.help or description]
        if choices:
            parts.append(f"one of {', '.join(map(str, choices))}")
        parts.append(f"(config key {self.path}; default {_shown(default)})")
        return " ".join(p for p in parts if p)

    def parameter(self) -> inspect.Parameter:
        if self.kind is bool:
            option = typer.Option(f"{self.flags[0]}/--no-{self.flags[0][2:]}",
                                  help=self.help_text(), show_default=False, metavar="")
        else:
            option = typer.Option(*self.flags, help=self.help_text(), show_default=False)
        return inspect.Parameter(self.param, inspect.Parameter.KEYWORD_ONLY, default=None,
                                 annotation=Annotated[self.kind | None, option])


def _shown(value) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "''"
    return str(value) if value is not None else "none"


def _hidden(text):
    return parse_list(text, int, "--hidden")


def _model_kind(kind):
    if kind not in ("mlp", "linear"):
        raise InputError(f"--model must be mlp or linear, got {kind!r}")
    return [] if kind == "linear" else None


DATA_OPTIONS = (
    ConfigOption(("--dataset", "-d"), "data.name"),
    ConfigOption(("--target",), "data.target"),
    ConfigOption(("--data-dir",), "data.data_dir", help="read the dataset files from here"),
    ConfigOption(("--preprocess",), "data.preprocess"),
    ConfigOption(("--pca-components",), "data.pca_components", int),
    ConfigOption(("--val-fraction",), "data.val_fraction", float,
                 help="training rows held out for validation"),
    ConfigOption(("--train-subset",), "data.train_subset", int),
)
MODEL_OPTIONS = (
    ConfigOption(("--hidden",), "model.hidden", str, _hidden,
                 help="hidden layer sizes, comma-separated ('' is a linear classifier)"),
    ConfigOption(("--activation",), "model.activation"),
    ConfigOption(("--batchnorm",), "model.batchnorm", bool, help="BatchNorm after each layer"),
    ConfigOption(("--dropout",), "model.dropout", float),
    ConfigOption(("--loss",), "model.loss"),
    ConfigOption(("--hinge",), "model.hinge"),
    ConfigOption(("--margin",), "model.margin", float, help="the hinge's margin"),
    ConfigOption(("--init",), "model.init", help="weight initialization (by activation)"),
    ConfigOption(("--regularizer",), "model.regularizer"),
    ConfigOption(("--reg",), "model.reg", float, help="regularization strength lambda"),
    ConfigOption(("--l1-ratio",), "model.l1_ratio", float, help="elastic net's L1 share"),
)
OPTIM_OPTIONS = (
    ConfigOption(("--optimizer", "-o"), "optim.name", help="update rule (gd: full batch)"),
    ConfigOption(("--lr",), "optim.lr", float, help="learning rate"),
    ConfigOption(("--momentum",), "optim.momentum", float),
    ConfigOption(("--momentum-final",), "optim.momentum_final", float),
    ConfigOption(("--beta1",), "optim.beta1", float),
    ConfigOption(("--beta2",), "optim.beta2", float),
    ConfigOption(("--eps",), "optim.eps", float, help="the adaptive rules' epsilon"),
    ConfigOption(("--weight-decay",), "optim.weight_decay", float),
    ConfigOption(("--clip-norm",), "optim.clip_norm", float),
    ConfigOption(("--clip-value",), "optim.clip_value", float),
    ConfigOption(("--base",), "optim.base"),
    ConfigOption(("--schedule",), "optim.schedule.kind", help="learning-rate schedule"),
    ConfigOption(("--decay-factor",), "optim.schedule.factor", float),
    ConfigOption(("--decay-every",), "optim.schedule.every_epochs", float),
    ConfigOption(("--decay-k",), "optim.schedule.k", float),
    ConfigOption(("--final-lr",), "optim.schedule.final", float, help="cosine's final rate"),
    ConfigOption(("--warmup-epochs",), "optim.schedule.warmup_epochs", float),
)
TRAIN_OPTIONS = (
    ConfigOption(("--epochs", "-e"), "train.epochs", int),
    ConfigOption(("--iterations",), "train.iterations", int),
    ConfigOption(("--batch-size", "-b"), "train.batch_size", int),
    ConfigOption(("--seed",), "train.seed", int, help="seed of the weights and the batches"),
    ConfigOption(("--dtype",), "train.dtype"),
    ConfigOption(("--patience",), "train.patience", int, help="early-stopping patience"),
    ConfigOption(("--replace",), "train.replace", bool, help="draw batches with replacement"),
    ConfigOption(("--keep-path-every",), "train.keep_path_every", int),
    ConfigOption(("--track-sharpness",), "train.track_sharpness", int),
    ConfigOption(("--eval-train-size",), "train.eval_train_size", int,
                 help="training rows for the train accuracy, the monitors and the sharpness"),
)
LINEAR_OPTION = ConfigOption(("--model",), "model.hidden", str, _model_kind,
                             help="mlp or linear (linear: no hidden layer)")


def _shape(text):
    return parse_list(text, int, "--input-shape")


TORCH_OPTIONS = (
    ConfigOption(("--torch-model",), "model.torch.factory",
                 help="train a PyTorch model instead of steepest's MLP: FILE.py:FACTORY, a "
                      "function of a Python file returning a torch.nn.Module (e.g. "
                      "examples/lenet.py:make; factory arguments with --set "
                      "model.torch.kwargs.NAME=VALUE)"),
    ConfigOption(("--torch-loss",), "model.torch.loss"),
    ConfigOption(("--input-shape",), "model.torch.input_shape", str, _shape,
                 help="the shape of one example for the PyTorch model, comma-separated "
                      "(default: the module's input_shape, else the image shape channels-first)"),
)
SEED_OPTION = TRAIN_OPTIONS[3]
ALL_OPTIONS = (*DATA_OPTIONS, *MODEL_OPTIONS, *OPTIM_OPTIONS, *TRAIN_OPTIONS)


def _set_values(pairs: list[str] | None) -> dict[str, Any]:
    """``--set KEY=VALUE`` pairs (values read as YAML) as dotted values."""
    import yaml

    out = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set takes KEY=VALUE with a dotted key like optim.lr=0.1, "
                             f"got {pair!r}")
        try:
            out[key.strip()] = yaml.safe_load(text) if len(text) <= 1000 else text
        except yaml.YAMLError:
            raise InputError(f"--set {key}: {text!r} is not a valid value") from None
    return out


def run_config(config: Path | None, values: dict[str, Any], given: dict[str, str] | None = None):
    """The run config: the YAML file (if any) with the dotted ``values`` set on top.

    ``given``: dotted path -> the option that set it (``{"model.hidden": "--hidden"}``), to
    name the option when a PyTorch model meets a setting of steepest's MLPs.
    """
    from ..config import load_config, with_values

    base = load_config(config) if config else None
    _refuse_mlp_options(base, values, given or {})
    return with_values(base, values)


def _refuse_mlp_options(base, values: dict[str, Any], given: dict[str, str]) -> None:
    """A PyTorch model (``--torch-model``, ``--set model.torch.factory=...`` or the config
    file) with an option of steepest's MLPs (``--hidden``, ``--activation``, ``--init``, ...):
    one line naming the option."""
    from ..config import MLP_FIELDS

    torch_model = values.get("model.torch.factory") or (
        base.model.torch.factory if base is not None else None)
    if torch_model is None:
        return
    for path in values:
        if path.removeprefix("model.") in MLP_FIELDS:
            option = given.get(path, f"--set {path}")
            raise InputError(f"{option} is an option of steepest's MLPs; the PyTorch model "
                             f"{torch_model!r} takes its architecture, loss and initialization "
                             f"from its file (use --torch-loss, or --set model.torch.kwargs."
                             f"NAME=VALUE for the factory's arguments)")


def config_options(*options: ConfigOption, defaults: dict[str, Any] | None = None):
    """Give a command ``--config FILE``, ``--set KEY=VALUE`` and ``options``; the command
    receives the resulting run config as its ``cfg`` argument.

    ``defaults`` are dotted values applied (under the options, over the file) when no config
    file is given, e.g. a shorter default run for ``compare``.
    """

    def decorate(fn):
        hints = typing.get_type_hints(fn, include_extras=True)
        own = [p.replace(annotation=hints.get(p.name, p.annotation))
               for p in inspect.signature(fn).parameters.values() if p.name != "cfg"]
        extra = [
            inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=Annotated[Path | None, typer.Option(
                                  "--config", help="a YAML run config; options override it")]),
            inspect.Parameter("set_", inspect.Parameter.KEYWORD_ONLY, default=None,
                              annotation=Annotated[list[str] | None, typer.Option(
                                  "--set", help="KEY=VALUE: set any dotted config key, e.g. "
                                                "optim.schedule.final=1e-4 (repeatable)")]),
            *(opt.parameter() for opt in options),
        ]

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            config, pairs = kwargs.pop("config"), kwargs.pop("set_")
            values = {} if config else dict(defaults or {})
            values.update(_set_values(pairs))
            named = {}
            for opt in options:
                given = kwargs.pop(opt.param)
                if given is not None:
                    named[opt.path] = opt.flags[0]
                    converted = opt.convert(given) if opt.convert else given
                    if converted is not None:
                        values[opt.path] = converted
            return fn(*args, cfg=run_config(config, values, named), **kwargs)

        params = own + extra
        wrapper.__signature__ = inspect.Signature(params)
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        del wrapper.__wrapped__
        return wrapper

    return decorate


def model_name(cfg) -> str:
    """``MLP 64-32-10`` style description of a config's model (the sizes need the data)."""
    hidden = "-".join(map(str, cfg.model.hidden))
    return f"MLP with hidden layers {hidden}" if hidden else "linear classifier"


def sizes(model) -> str:
    """``64-32-10``: the layer sizes of steepest's MLP (empty for other objectives)."""
    cfg = getattr(model, "config", None) or {}
    return "-".join(str(s) for s in cfg.get("sizes", []))


def model_id(cfg, model) -> str:
    """What a run config's model is, short: the MLP's sizes or the PyTorch FILE.py:FACTORY."""
    return cfg.torch_model if cfg.torch_model is not None else sizes(model)


def model_label(cfg, model) -> str:
    """``MLP 64-32-10`` or ``PyTorch model examples/lenet.py:make (61,706 parameters)``."""
    if cfg.torch_model is not None:
        return f"PyTorch model {cfg.torch_model} ({model.n_params:,} parameters)"
    return f"MLP {sizes(model)}"
