"""Rows to typed records and back (adapters/record_codec.py): enum fields come back as
their members and go out as plain text, tuples of records as JSON lists of objects, and a
value outside its enum is refused on the way in and out."""

from __future__ import annotations

import dataclasses
import enum
import json

import pytest

from corridor.platform.adapters.record_codec import codec
from corridor.platform.domain.transfers import Leg, Purpose, Transfer, TransferStatus


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    colour: Colour
    at_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Thing:
    id: str
    colour: Colour
    previous: Colour | None
    steps: tuple[Step, ...]
    latest: dict[str, Step]
    data: dict[str, object]


ROW = {"id": "t", "colour": "red", "previous": None,
       "steps": [{"colour": "blue", "at_ms": 1}, {"colour": "red", "at_ms": 2}],
       "latest": {"x": {"colour": "blue", "at_ms": 3}}, "data": {"free": ["form"]}}


def test_a_row_becomes_a_typed_record_and_back() -> None:
    thing = codec(Thing).record(ROW)
    assert thing.colour is Colour.RED and thing.previous is None
    assert thing.steps == (Step(colour=Colour.BLUE, at_ms=1), Step(colour=Colour.RED, at_ms=2))
    assert thing.latest == {"x": Step(colour=Colour.BLUE, at_ms=3)}
    assert thing.data == {"free": ["form"]}  # no type to convert to: as the driver gave it
    values = codec(Thing).values(thing)
    assert values == ROW
    assert type(values["colour"]) is str and type(values["steps"][0]["colour"]) is str
    assert json.loads(json.dumps(values)) == ROW  # what a JSON column stores


def test_a_value_outside_its_enum_is_refused_both_ways() -> None:
    with pytest.raises(ValueError, match="'green' is not a valid Colour"):
        codec(Thing).record({**ROW, "colour": "green"})
    with pytest.raises(ValueError, match="is not a valid Colour"):
        codec(Thing).record({**ROW, "steps": [{"colour": "RED", "at_ms": 1}]})
    bad = dataclasses.replace(codec(Thing).record(ROW), previous="green")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'green' is not a valid Colour"):
        codec(Thing).values(bad)


def test_a_transfer_stores_its_legs_as_json_objects() -> None:
    legs = (Leg(source="a", destination="b", code="USD", amount_minor=5),)
    t = Transfer(id="t", purpose=Purpose.PAYMENT, ref_id="p", source="a", legs=legs, memo="",
                 status=TransferStatus.QUEUED, sequence=None, tx_id=None, tx_hex=None,
                 height=None, result_code=None, result_message=None, attempts=0,
                 created_ms=1, updated_ms=1)
    values = codec(Transfer).values(t)
    assert values["legs"] == [{"source": "a", "destination": "b", "code": "USD",
                               "amount_minor": 5}]
    assert (values["purpose"], values["status"]) == ("payment", "queued")
    assert codec(Transfer).record(values) == t
