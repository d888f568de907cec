from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from app.ids import time_ordered_id

INSTANTS = st.integers(min_value=0, max_value=(1 << 48) - 1)


@given(st.lists(INSTANTS, min_size=2, max_size=50, unique=True))
def test_ids_made_at_later_instants_sort_later(instants):
    ids = {at: time_ordered_id(at) for at in instants}
    assert sorted(ids, key=lambda at: ids[at]) == sorted(instants)
    assert sorted(ids, key=lambda at: str(ids[at])) == sorted(instants), "text order too"


@given(INSTANTS)
def test_an_id_is_a_version_7_rfc_uuid_carrying_its_instant(at):
    made = time_ordered_id(at)
    assert made.version == 7 and made.variant == "specified in RFC 4122"
    assert made.int >> 80 == at
    assert UUID(str(made)) == made


def test_ids_made_in_the_same_millisecond_differ():
    assert len({time_ordered_id(1_700_000_000_000) for _ in range(10_000)}) == 10_000


def test_the_default_instant_is_now():
    import time

    before = time.time_ns() // 1_000_000
    made = time_ordered_id().int >> 80
    assert before <= made <= time.time_ns() // 1_000_000
