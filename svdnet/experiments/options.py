"""The options that change how a method trains, each declared once.

An option's default, allowed values, the methods it applies to, its word in the method
label (``lowrank+kd``), its token in file names (``kd0.9t4``), how the runner reads that
token back, its words on a run page and its command-line help live in one
:class:`MethodOption` of :data:`METHOD_OPTIONS`. :class:`~svdnet.experiments.config.RunConfig`
validates with it, and the method label, the file names, the grid's flags and name parser,
the dense twin and the run pages are made from it: adding an option is one entry here, one
field of ``RunConfig``, one parameter of the sweep notebook (a test checks it is there, with
the same default) and the training code that uses it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from svdnet.rank_selection import rank_request
from svdnet.validation import check_choice, check_int, check_number

OUTPUT_LAYERS = ("auto", "dense")
"""What the compressed methods do with the output layer: ``"auto"`` factorizes it like
every other layer where its factors are smaller (below its break-even rank), ``"dense"``
keeps it as it is (it holds 0.2% of the reference model's parameters, and a rank below
the number of classes caps how many classes the network can tell apart)."""

LR_SCHEDULES = ("constant", "cosine")
"""Learning-rate schedules of ``finetune``'s factor epochs."""

ALLOCATIONS = ("energy", "accuracy")
"""How a parameter budget is shared between layers."""

DISTILLED = ("finetune", "lowrank", "small")
"""The methods that can learn from the dense teacher (``distill > 0``)."""

CALIBRATED = ("projection", "posthoc", "finetune")
"""The methods whose SVD can fit the layers' outputs on training examples (``calibration
> 0``): those that truncate trained kernels (``lowrank`` factorizes its random start)."""


def _number(value) -> str:
    return f"{value:g}"


def _prefixed(name: str, prefix: str, chars: str = "[a-z]+", kind=str) -> dict:
    """``token``, ``pattern`` and ``read`` of an option written as ``prefix`` and its value
    (``outdense``, ``an3``)."""
    return {"token": lambda fields: f"{prefix}{fields[name]}",
            "pattern": rf"{prefix}(?P<{name}>{chars})",
            "read": lambda groups: {name: kind(groups[name])}}


@dataclasses.dataclass(frozen=True)
class MethodOption:
    """One option of how a method trains.

    Attributes:
        name: The :class:`~svdnet.experiments.config.RunConfig` field (and notebook
            parameter; the grid's flag is ``--`` and the name with dashes).
        default: Its value when not given; a run at every default is the plain method.
        kind: ``int``, ``float`` or ``str``: how the command line reads it.
        help: Its command-line help.
        check: Raises, naming the option and the value, for a value not allowed.
        misuse: Given a config holding a value other than the default, the reason it
            does not apply to that config's method or rank choice (an error message), or
            ``None`` when it applies; ``None`` for an option that applies to every
            method. Defaults to ``None``.
        label: Its word in the method label when not at its default (``value`` is
            substituted), or ``""`` for none. Defaults to ``""``.
        token: Its file-name token when not at its default, from the config's fields,
            or ``None`` for none. Defaults to ``None``.
        pattern: The regular expression of ``token`` (named groups), for reading names
            back. Defaults to ``""``.
        read: The fields that ``pattern``'s groups give back, from the match's
            ``groupdict``; fields the name does not hold take their defaults. Defaults
            to ``None``.
        words: Its words on a run page when not at its default, from the run's fields.
            Defaults to ``None``.
        labelled: Whether the method label tells its value (not only that it is set):
            the report's rows then tell runs of different values apart, and the value
            is not part of a run's recipe (:func:`svdnet.experiments.results.recipe`).
            Defaults to ``False``.
        definitions: ``(label word, one line of definition)`` for each word the option
            puts in method labels, for the report's and the landing page's definitions
            (:func:`svdnet.experiments.findings.definitions`). Defaults to none.
    """

    name: str
    default: object
    kind: type
    help: str
    check: Callable[[object], None]
    misuse: Callable[[object], str | None] | None = None
    label: str = ""
    token: Callable[[dict], str] | None = None
    pattern: str = ""
    read: Callable[[dict], dict] | None = None
    words: Callable[[dict], str] | None = None
    labelled: bool = False
    definitions: tuple = ()

    @property
    def flag(self) -> str:
        """The grid's command-line flag: ``--output-layer``."""
        return "--" + self.name.replace("_", "-")

    def is_set(self, fields: dict) -> bool:
        """Whether ``fields`` (a config's fields; missing ones are at their default) hold a
        value other than the default."""
        return fields.get(self.name, self.default) != self.default


METHOD_OPTIONS = (
    MethodOption(
        "output_layer", "auto", str,
        "compressed methods: 'auto' or 'dense' (keep the output layer)",
        lambda value: check_choice("output_layer", value, OUTPUT_LAYERS),
        misuse=lambda config: None if config.method != "dense" else (
            f"output_layer={config.output_layer!r} applies to the compressed methods and "
            "small; received method='dense'."),
        label="denseout",
        **_prefixed("output_layer", "out"),
        words=lambda fields: f"output layer {fields['output_layer']}",
        labelled=True,  # one value besides the default
        definitions=(("denseout", "output dense: the output layer is not factorized (its "
                                  "`small` is sized to match)"),)),
    MethodOption(
        "distill", 0.0, float,
        "finetune, lowrank, small: weight of the dense teacher's soft targets, in [0, 1)",
        lambda value: check_number("distill", value, minimum=0, maximum=1,
                                   include_maximum=False),
        misuse=lambda config: None if config.method in DISTILLED else (
            f"distill={config.distill} needs a method that trains after the teacher, one of "
            f"{', '.join(map(repr, DISTILLED))}; received method={config.method!r}."),
        label="kd",
        token=lambda fields: (f"kd{_number(fields['distill'])}"
                              f"t{_number(fields.get('temperature', 4.0))}"),
        pattern=r"kd(?P<distill>[\d.]+)t(?P<temperature>[\d.]+)",
        read=lambda groups: {"distill": float(groups["distill"]),
                             "temperature": float(groups["temperature"])},
        words=lambda fields: (f"distilled, weight {fields['distill']:g}, "
                              f"T {fields.get('temperature', 4.0):g}"),
        definitions=(("kd", "distillation: also trained on the softened outputs of the dense "
                            "network of the same seed (`small+kd` gets the same teacher)"),)),
    # Named in the distillation's label, token and words: none of its own.
    MethodOption(
        "temperature", 4.0, float, "distillation temperature, > 0",
        lambda value: check_number("temperature", value, minimum=0, include_minimum=False)),
    MethodOption(
        "weight_decay", 0.0, float, "lowrank: Frobenius decay of each product U V",
        lambda value: check_number("weight_decay", value, minimum=0),
        misuse=lambda config: None if config.method == "lowrank" else (
            f"weight_decay={config.weight_decay} is the Frobenius decay of 'lowrank''s "
            f"factors; received method={config.method!r}."),
        label="fd",
        # a minus sign in an exponent is written ``m`` (file names)
        token=lambda fields: f"wd{_number(fields['weight_decay'])}".replace("-", "m"),
        pattern=r"wd(?P<weight_decay>[\d.em+]+)",
        read=lambda groups: {"weight_decay": float(groups["weight_decay"].replace("m", "-"))},
        words=lambda fields: f"Frobenius decay {fields['weight_decay']:g}",
        definitions=(("fd", "Frobenius decay: `lowrank` with weight decay on each product of "
                            "factors (U V), not on each factor"),)),
    MethodOption(
        "anneal_epochs", 0, int, "projection: epochs over which the kept rank falls to k",
        lambda value: check_int("anneal_epochs", value, minimum=0),
        misuse=lambda config: None if (
            config.method == "projection"
            and not rank_request(**config.rank_choice).needs_spectrum) else (
            f"anneal_epochs={config.anneal_epochs} anneals the rank of 'projection' with a "
            f"rank; received method={config.method!r} with {config.rank_label}."),
        label="anneal",
        **_prefixed("anneal_epochs", "an", r"\d+", int),
        words=lambda fields: f"rank annealed over {fields['anneal_epochs']} epochs",
        definitions=(("anneal", "annealing: `projection`'s rank lowered step by step over "
                                "the first epochs, not at once"),)),
    MethodOption(
        "calibration", 0, int,
        "projection, posthoc, finetune: first training examples whose layer inputs the SVD "
        "fits (data-aware truncation, svdnet.factorize(data=...)); 0 for the weights' SVD",
        lambda value: check_int("calibration", value, minimum=0),
        misuse=lambda config: None if config.method in CALIBRATED else (
            f"calibration={config.calibration} fits the SVD of a trained kernel to its "
            f"layer's outputs, for one of {', '.join(map(repr, CALIBRATED))}; received "
            f"method={config.method!r}."),
        label="calib",
        **_prefixed("calibration", "cal", r"\d+", int),
        words=lambda fields: (f"data-aware SVD on {fields['calibration']:,} training "
                              "examples"),
        definitions=(("calib", "data-aware: each kernel truncated to keep its layer's "
                               "outputs on the first training examples closest "
                               "(activation-whitened SVD), not its weights"),)),
    MethodOption(
        "allocation", "energy", str,
        "finetune with budgets: 'energy' or 'accuracy' (measured per layer)",
        lambda value: check_choice("allocation", value, ALLOCATIONS),
        misuse=lambda config: None if (config.method == "finetune"
                                       and config.budget is not None) else (
            f"allocation={config.allocation!r} shares a budget between the layers of "
            f"'finetune'; received method={config.method!r} with {config.rank_label}."),
        label="{value}",
        **_prefixed("allocation", "al"),
        words=lambda fields: f"budget shared by {fields['allocation']}", labelled=True,
        definitions=(("accuracy", "accuracy allocation: a budget shared by each layer's "
                                  "measured accuracy when truncated alone, not its spectral "
                                  "energy"),)),
    MethodOption(
        "lr_schedule", "constant", str,
        "finetune: 'constant' or 'cosine' learning rate for the factor epochs",
        lambda value: check_choice("lr_schedule", value, LR_SCHEDULES),
        misuse=lambda config: None if config.method == "finetune" else (
            f"lr_schedule={config.lr_schedule!r} schedules the factor epochs of 'finetune'; "
            f"received method={config.method!r}."),
        label="{value}",
        **_prefixed("lr_schedule", "lr"),
        words=lambda fields: f"{fields['lr_schedule']} learning rate", labelled=True,
        definitions=(("cosine", "cosine: `finetune`'s factor epochs with a learning rate "
                                "that decays along a cosine"),)),
)
"""Every option of how a method trains, in the order of labels, names and page text."""


def option_defaults() -> dict:
    """Each option's name and default."""
    return {option.name: option.default for option in METHOD_OPTIONS}


def option_values(fields: dict) -> dict:
    """Each option's value in ``fields`` (a config's fields, a result's ``config``), its
    default where ``fields`` has none."""
    return {option.name: fields.get(option.name, option.default) for option in METHOD_OPTIONS}


def check_options(config) -> None:
    """Checks each option's value of ``config`` (in table order), then that each option
    set applies to its method and rank choice; raises naming the first one that does not
    (so a value out of range is reported before an option given to the wrong method)."""
    fields = {option.name: getattr(config, option.name) for option in METHOD_OPTIONS}
    for option in METHOD_OPTIONS:
        option.check(fields[option.name])
    for option in METHOD_OPTIONS:
        if (option.misuse and option.is_set(fields)
                and (reason := option.misuse(config))):
            raise ValueError(reason)


def dense_options(config) -> dict:
    """The options of ``config``'s dense twin: the default of every option that applies to
    some methods only (the others, such as the temperature, are kept as they are)."""
    return {option.name: option.default if option.misuse else getattr(config, option.name)
            for option in METHOD_OPTIONS}


def method_label(method: str, **options) -> str:
    """A method's name with the options that change how it trains, as the report shows
    it: ``"lowrank"``, ``"lowrank+denseout+kd"``, ``"small+kd"``, ``"lowrank+fd"``,
    ``"projection+anneal"``, ``"finetune+accuracy"``. (The report adds ``"+30ep"`` to runs
    of another training budget than its main one:
    :func:`svdnet.experiments.report.load_results`.)

    Args:
        method: The training method.
        **options: Values of :data:`METHOD_OPTIONS` (others at their defaults).
    """
    unknown = sorted(set(options) - set(option_defaults()))
    if unknown:
        raise TypeError(f"method_label: unknown option(s) {unknown}; the options are "
                        f"{', '.join(option_defaults())}.")
    words = [option.label.format(value=options[option.name]) for option in METHOD_OPTIONS
             if option.label and option.is_set(options)]
    return "+".join([method] + words)


def option_tokens(config) -> list[str]:
    """The file-name tokens of the options set in ``config`` (a
    :class:`~svdnet.experiments.config.RunConfig`), in result and notebook names alike:
    ``outdense``, ``kd0.9t4`` (distillation weight and temperature), ``wd0.0001``, ``an3``,
    ``cal2048``, ``alaccuracy``, ``lrcosine``. None for the defaults."""
    fields = {option.name: getattr(config, option.name) for option in METHOD_OPTIONS}
    return [option.token(fields) for option in METHOD_OPTIONS
            if option.token and option.is_set(fields)]


def options_pattern() -> str:
    """The regular expression of :func:`option_tokens`' tokens, each optional and preceded
    by ``-``, in order."""
    return "".join(f"(?:-{option.pattern})?" for option in METHOD_OPTIONS if option.pattern)


def read_options(groups: dict) -> dict:
    """Every option's value from a match of :func:`options_pattern` (its ``groupdict``):
    what the name holds, the default for the rest."""
    values = option_defaults()
    for option in METHOD_OPTIONS:
        if option.read and groups.get(option.name) is not None:
            values.update(option.read(groups))
    return values


def option_words(fields: dict) -> str:
    """The options of a run set in ``fields`` in words, ``" (distilled, weight 0.9, T 4)"``;
    ``""`` for the defaults."""
    words = [option.words(fields) for option in METHOD_OPTIONS
             if option.words and option.is_set(fields)]
    return f" ({'; '.join(words)})" if words else ""


def add_flags(parser) -> None:
    """Adds one argparse flag per option to ``parser``."""
    for option in METHOD_OPTIONS:
        parser.add_argument(option.flag, type=option.kind, default=option.default,
                            help=option.help)

