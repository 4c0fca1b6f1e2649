"""The text limits both chat adapters share: clipping and splitting at line ends."""

from adapters.limits import clip, file_size, split_text


def test_clip_marks_what_it_cut() -> None:
    assert clip("short", 10) == "short"
    assert clip("a" * 12, 10) == "a" * 9 + "…"


def test_split_fills_parts_up_to_the_limit_at_line_ends() -> None:
    assert split_text("aaaa\nbbbb\ncccc", 9) == ["aaaa\nbbbb", "cccc"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]  # one enormous line is cut anywhere
    assert split_text("", 10) == [] and split_text(" \n \n", 10) == []


def test_file_sizes_read_as_people_read_them() -> None:
    assert [file_size(n) for n in (0, 999, 1000, 12_345, 10_485_760)] == [
        "0 bytes", "999 bytes", "1.0 KB", "12.3 KB", "10.5 MB"]
