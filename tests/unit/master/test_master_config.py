"""Master flags that need parsing."""

from __future__ import annotations

import pytest

from berth.core.errors import InvalidInput
from berth.master.master import parse_weights


def test_weights_parse_role_number_pairs() -> None:
    assert parse_weights("") == ()
    assert parse_weights("eng=2,eng/web=0.25") == (("eng", 2.0), ("eng/web", 0.25))


@pytest.mark.parametrize(
    "text", ["eng", "eng=", "eng=0", "eng=-1", "eng=inf", "eng=nan", "=2", "a b=1"]
)
def test_bad_weights_say_what_to_write(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"weights|role"):
        parse_weights(text)
