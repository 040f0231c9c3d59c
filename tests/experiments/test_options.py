"""The table of method options: each option declared once reaches the config's checks, the
method label, the file names and their parser, the grid's flags, the run pages and the
sweep notebook."""

import argparse
import dataclasses
import re

import pytest

from svdnet.experiments import options
from svdnet.experiments.config import RunConfig
from svdnet.experiments.grid import Group, notebook_parameters
from svdnet.experiments.options import METHOD_OPTIONS
from svdnet.experiments.paths import NOTEBOOKS
from svdnet.experiments.sweep import result_name

SET = {
    "output_layer": ({"method": "lowrank", "rank": 5}, "dense"),
    "distill": ({"method": "small", "rank": 5}, 0.8),
    "temperature": ({"method": "small", "rank": 5, "distill": 0.5}, 2.5),
    "weight_decay": ({"method": "lowrank", "rank": 5}, 1e-5),
    "anneal_epochs": ({"method": "projection", "rank": 5}, 3),
    "calibration": ({"method": "posthoc", "rank": 5}, 256),
    "allocation": ({"method": "finetune", "rank": None, "budget": 100_000}, "accuracy"),
    "lr_schedule": ({"method": "finetune", "rank": 5}, "cosine"),
}
"""For each option, a config it applies to and a value other than its default."""


def test_every_option_has_a_case_here():
    assert set(SET) == {option.name for option in METHOD_OPTIONS}
    assert [option.name for option in METHOD_OPTIONS] == [
        field.name for field in dataclasses.fields(RunConfig)
        if field.name in SET]  # RunConfig holds them in the table's order


@pytest.mark.parametrize("option", METHOD_OPTIONS, ids=lambda option: option.name)
def test_an_option_set_reaches_the_label_the_names_and_the_page(option):
    fields, value = SET[option.name]
    config = RunConfig(**fields, **{option.name: value})
    plain = RunConfig(**fields)
    def label(run):
        return options.method_label(run.method, **options.option_values(dataclasses.asdict(run)))

    if option.label:
        word = option.label.format(value=value)
        assert word in label(config).split("+")[1:]
        assert label(plain) != label(config)
        assert word in dict(option.definitions)  # the report defines the word it shows
    else:  # the temperature is named with the distillation it belongs to
        assert label(plain) == label(config)
    # the file names differ from the plain run's, the notebook (and so its page) is given the
    # value, and the run page says it
    assert result_name(config) != result_name(plain)
    group = Group(config, (5,) if config.rank else (),
                  budgets=(100_000,) if config.budget else ())
    assert group.name != Group(plain, group.ranks, budgets=group.budgets).name
    assert notebook_parameters(group, "out")[option.name] == value  # what its page carries
    assert (options.option_words(dataclasses.asdict(config))
            != options.option_words(dataclasses.asdict(plain)))


@pytest.mark.parametrize("option", [o for o in METHOD_OPTIONS if o.misuse],
                         ids=lambda option: option.name)
def test_an_option_set_for_a_method_it_does_not_apply_to_is_refused_naming_it(option):
    _, value = SET[option.name]
    with pytest.raises(ValueError, match=re.escape(f"{option.name}=")):
        RunConfig(method="dense", **{option.name: value})


@pytest.mark.parametrize("option", METHOD_OPTIONS, ids=lambda option: option.name)
@pytest.mark.parametrize("bad", ["", None, -1, float("nan"), "Dense", 1.5, True])
def test_a_bad_value_of_an_option_is_refused_naming_it(option, bad):
    fields, _ = SET[option.name]
    if option.name in ("temperature", "weight_decay") and bad == 1.5:
        pytest.skip(f"1.5 is an allowed {option.name}")
    with pytest.raises((TypeError, ValueError)) as error:
        RunConfig(**fields, **{option.name: bad})
    message = str(error.value)
    assert option.name in message
    assert repr(bad) in message or str(bad) in message, message


def test_the_dense_twin_takes_the_defaults_of_the_options_of_some_methods_only():
    config = RunConfig(method="lowrank", rank=5, output_layer="dense", distill=0.9,
                       temperature=2.0, weight_decay=1e-4)
    twin = config.dense_twin()
    assert twin.method == "dense"
    assert (twin.output_layer, twin.distill, twin.weight_decay) == ("auto", 0.0, 0.0)
    assert twin.temperature == 2.0  # applies to every method: kept


def test_the_grid_has_one_flag_per_option_with_its_default_and_help():
    parser = argparse.ArgumentParser(allow_abbrev=False)
    options.add_flags(parser)
    args = parser.parse_args([])
    for option in METHOD_OPTIONS:
        assert getattr(args, option.name) == option.default
    assert parser.parse_args(["--weight-decay", "1e-4"]).weight_decay == 1e-4
    assert "Frobenius decay" in parser.format_help()


def test_the_sweep_notebook_declares_each_option_with_the_tables_default():
    with open(f"{NOTEBOOKS}/sweep.py", encoding="utf-8") as handle:
        source = handle.read()
    for option in METHOD_OPTIONS:
        declared = re.search(rf"^{option.name}: (\w+) = (.+?)  #", source, re.MULTILINE)
        assert declared, option.name
        assert declared.group(1) == option.kind.__name__
        assert eval(declared.group(2)) == option.default  # noqa: S307 (the notebook's literal)


def test_a_new_option_in_the_table_reaches_the_flags_label_names_parser_and_page(monkeypatch):
    """What adding an option costs: one entry of the table (here a throwaway one)."""
    new = options.MethodOption(
        "dropout", 0.0, float, "every method: dropout rate after each hidden layer",
        lambda value: None, label="drop", token=lambda fields: f"do{fields['dropout']:g}",
        pattern=r"do(?P<dropout>[\d.]+)",
        read=lambda groups: {"dropout": float(groups["dropout"])},
        words=lambda fields: f"dropout {fields['dropout']:g}")
    monkeypatch.setattr(options, "METHOD_OPTIONS", options.METHOD_OPTIONS + (new,))
    parser = argparse.ArgumentParser(allow_abbrev=False)
    options.add_flags(parser)
    assert parser.parse_args(["--dropout", "0.25"]).dropout == 0.25
    assert options.method_label("small", dropout=0.25) == "small+drop"
    config = dataclasses.make_dataclass(
        "Config", [(option.name, object, option.default) for option in options.METHOD_OPTIONS]
    )(dropout=0.25)
    assert options.option_tokens(config) == ["do0.25"]
    pattern = re.compile("^x" + options.options_pattern() + "$")
    assert options.read_options(pattern.match("x-do0.25").groupdict())["dropout"] == 0.25
    assert options.option_words({"dropout": 0.25}) == " (dropout 0.25)"
    assert options.option_defaults()["dropout"] == 0.0


def test_method_label_refuses_an_unknown_option():
    with pytest.raises(TypeError, match="unknown option.*'dropuot'"):
        options.method_label("small", dropuot=0.1)
