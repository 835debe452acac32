"""ModelCard: validation, JSON round trip, unknown keys, format versions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ganedit import MaskSpec, ModelCard, ModelCardError
from ganedit.card import CARD_FORMAT


def _card(**changes: Any) -> ModelCard:
    fields: dict[str, Any] = {"name": "tiny", "task": "translate", "arch": "resnet_1blocks"}
    fields.update(changes)
    return ModelCard(**fields)


def _full_card() -> ModelCard:
    return ModelCard(
        name="fill",
        task="inpaint",
        arch="unet_32",
        scale=1,
        in_channels=3,
        out_channels=3,
        input_range=(0.0, 1.0),
        output_range=(-1.0, 1.0),
        size_multiple=32,
        min_size=64,
        tiling="discouraged",
        mask=MaskSpec(channel=3, hole=0),
        norm_stats="running",
        source="https://example.org/fill.pth",
        license="MIT",
        extra={"family": "unet", "ngf": 4},
    )


def test_minimal_card_takes_defaults() -> None:
    card = _card()
    assert (card.scale, card.in_channels, card.out_channels) == (1, 3, 3)
    assert card.input_range == (-1.0, 1.0)
    assert card.mask is None and card.norm_stats is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"task": "colorize"}, "task must be one of"),
        ({"scale": 0}, "scale must be a positive integer"),
        ({"in_channels": -1}, "in_channels must be a positive integer"),
        ({"out_channels": 2.0}, "out_channels must be a positive integer"),
        ({"size_multiple": True}, "size_multiple must be a positive integer"),
        ({"min_size": 0}, "min_size must be a positive integer"),
        ({"input_range": (1.0, -1.0)}, "input_range must be"),
        ({"output_range": (0.0, 0.0)}, "output_range must be"),
        ({"input_range": (0.0, 0.5, 1.0)}, "input_range must be"),
        ({"tiling": "maybe"}, "tiling must be"),
        ({"norm_stats": "batch"}, "norm_stats must be"),
        ({"mask": MaskSpec(channel=3)}, "mask must be given for inpaint models"),
        ({"task": "inpaint"}, "mask must be given for inpaint models"),
        # A hostile file's card: each bound keeps an allocation or a loop small.
        ({"min_size": 40000}, "min_size must be at most 4096, got 40000"),
        ({"scale": 1000}, "scale must be at most 16"),
        ({"in_channels": 100000}, "in_channels must be at most 16"),
        ({"size_multiple": 1 << 20}, "size_multiple must be at most 1024"),
        ({"max_batch": 10**9}, "max_batch must be an integer in 1..4096"),
        ({"input_range": (0.0, float("inf"))}, r"input_range must be \[lo, hi\], finite"),
        ({"output_range": (float("nan"), 1.0)}, "output_range must be"),
        ({"input_range": (0.0, 1e300)}, "input_range must be"),
        ({"name": "n" * 5000}, "name must be a string of at most 4096 characters"),
        ({"arch": None}, "arch must be a string"),
        (
            {"task": "inpaint", "mask": MaskSpec(channel=99)},
            "mask must name a channel 0..3 and a hole value 0 or 1",
        ),
        ({"task": "inpaint", "mask": MaskSpec(channel=3, hole=255)}, "hole value 0 or 1"),
    ],
)
def test_invalid_field_raises_model_card_error(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelCardError, match=message):
        _card(**changes)


def test_every_problem_is_reported_at_once() -> None:
    message = r"invalid model card: scale must be a positive integer.*; tiling must be"
    with pytest.raises(ModelCardError, match=message):
        _card(scale=0, tiling="maybe")


@pytest.mark.parametrize("card", [_card(), _full_card()], ids=["minimal", "full"])
def test_json_round_trip_gives_an_equal_card(card: ModelCard) -> None:
    assert ModelCard.from_json(card.to_json()) == card


def test_to_dict_writes_format_and_lists() -> None:
    data = _full_card().to_dict()
    assert data["format"] == CARD_FORMAT
    assert data["input_range"] == [0.0, 1.0]
    assert data["mask"] == {"channel": 3, "hole": 0}
    assert data["family"] == "unet"  # extra keys sit beside the known ones
    assert "extra" not in data


def test_to_dict_leaves_out_unset_optional_fields() -> None:
    data = _card().to_dict()
    assert "mask" not in data and "norm_stats" not in data


def test_unknown_keys_are_kept_in_extra() -> None:
    data = _card().to_dict() | {"family": "resnet", "trained_on": {"images": 1067}}
    card = ModelCard.from_json(json.dumps(data))
    assert card.extra == {"family": "resnet", "trained_on": {"images": 1067}}
    assert json.loads(card.to_json())["trained_on"] == {"images": 1067}


def test_extra_never_overrides_a_known_field() -> None:
    card = _card(extra={"name": "impostor"})
    assert card.to_dict()["name"] == "tiny"


def test_card_without_format_reads_as_current_format() -> None:
    data = _card().to_dict()
    del data["format"]
    assert ModelCard.from_dict(data) == _card()


@pytest.mark.parametrize("fmt", [CARD_FORMAT + 1, "1"])
def test_newer_or_malformed_format_is_refused(fmt: object) -> None:
    data = _card().to_dict() | {"format": fmt}
    with pytest.raises(ModelCardError, match="upgrade ganedit"):
        ModelCard.from_dict(data)


@pytest.mark.parametrize("missing", ["name", "task", "arch"])
def test_missing_required_key_is_named(missing: str) -> None:
    data = _card().to_dict()
    del data[missing]
    with pytest.raises(ModelCardError, match=f"lacks required keys \\['{missing}'\\]"):
        ModelCard.from_dict(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object, got list")],
)
def test_from_json_rejects_non_objects(text: str, message: str) -> None:
    with pytest.raises(ModelCardError, match=message):
        ModelCard.from_json(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "model card nests deeper than 16 levels"),
        ('{"a": ' * 17 + "1" + "}" * 17, "model card nests deeper than 16 levels"),
        (json.dumps({"name": "x" * (1 << 20)}), "ganedit reads at most 1048576"),
    ],
    ids=["deep-lists", "deep-objects", "huge"],
)
def test_a_hostile_card_is_refused_before_it_is_parsed(text: str, message: str) -> None:
    with pytest.raises(ModelCardError, match=message):
        ModelCard.from_json(text)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    data = _card().to_dict() | {"note": '[[[[[[[[[[[[[[[[[[[[{{{{ \\" ]]'}
    assert ModelCard.from_json(json.dumps(data)).extra["note"].startswith("[[[[")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mask", {"channel": 3, "colour": "white"}),
        ("mask", 3),
        ("input_range", ["low", "high"]),
        ("output_range", 1.0),
    ],
)
def test_malformed_value_raises_model_card_error(key: str, value: object) -> None:
    data = _card(task="inpaint", mask=MaskSpec(channel=3)).to_dict() | {key: value}
    with pytest.raises(ModelCardError, match="malformed model card"):
        ModelCard.from_dict(data)


def test_replace_validates_the_new_card() -> None:
    assert _card().replace(scale=4).scale == 4
    with pytest.raises(ModelCardError, match="scale must be a positive integer, got 0"):
        _card().replace(scale=0)
