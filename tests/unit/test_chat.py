from ampere.chat import chat_flags, overlay_lines


def row(text, x0, y0, x1, y1, t=10.0):
    return [text, 0.99, x0, y0, x1, y1, t]


def frame(t=10.0):
    return [
        row("LIVE", 0.01, 0.02, 0.08, 0.08, t),
        row("2.1K watching", 0.09, 0.02, 0.24, 0.08, t),
        # the comment panel: left-aligned, one small font, a wrapped message continues without a name
        row("zoe ordered the Treaki Raven 700!", 0.014, 0.62, 0.33, 0.675, t),
        row("noah is the Winter Lane Condor 5 still", 0.014, 0.68, 0.34, 0.735, t),
        row("available?", 0.015, 0.74, 0.12, 0.795, t),
        row("ava_b hi hi hi", 0.013, 0.80, 0.18, 0.855, t),
        # the shop's price card: a label over a big price, left-aligned with each other
        row("NOW", 0.498, 0.73, 0.577, 0.79, t),
        row("$129.99", 0.495, 0.79, 0.80, 0.93, t),
        row("Golden Pine Fox 2", 0.60, 0.10, 0.95, 0.18, t),
    ]


def test_a_stacked_comment_panel_is_chat_and_the_overlays_are_not():
    rows = frame()
    flags = dict(zip((r[0] for r in rows), chat_flags(rows)))
    assert flags["zoe ordered the Treaki Raven 700!"] and flags["available?"] and flags["ava_b hi hi hi"]
    assert not flags["NOW"] and not flags["$129.99"] and not flags["Golden Pine Fox 2"]
    assert not flags["LIVE"] and not flags["2.1K watching"]
    assert overlay_lines(rows) == ["LIVE", "2.1K watching", "NOW", "$129.99", "Golden Pine Fox 2"]


def test_panels_are_found_per_frame_and_two_lines_are_not_a_panel():
    # the same column split over two frames is two lines per frame: not enough to call it a panel
    rows = [
        row("ava_b hi hi hi", 0.013, 0.80, 0.18, 0.855, 10.0),
        row("ben wow", 0.013, 0.86, 0.12, 0.915, 10.0),
        row("ava_b hi hi hi", 0.013, 0.80, 0.18, 0.855, 14.0),
        row("ben wow", 0.013, 0.86, 0.12, 0.915, 14.0),
    ]
    assert chat_flags(rows) == [False] * 4
    assert sum(chat_flags(frame(10.0) + frame(14.0))) == 8


def test_lines_far_apart_in_one_column_are_not_a_panel():
    rows = [row("NEW", 0.05, 0.10, 0.12, 0.15), row("HOT", 0.05, 0.40, 0.12, 0.45), row("DEAL", 0.05, 0.75, 0.13, 0.8)]
    assert chat_flags(rows) == [False, False, False]


def test_lines_on_top_of_each_other_are_not_a_panel():
    rows = [row(text, 0.0, 0.0, 1.0, 1.0) for text in ("NOW", "$120", "Zorvik 40", "LIVE")]
    assert chat_flags(rows) == [False] * 4


def test_lines_without_boxes_are_judged_by_their_text():
    assert chat_flags(["mike22: is it $49?", "$49.99", "LIMITED STOCK"]) == [True, False, False]
    assert overlay_lines(["mike22: is it $49?", "$49.99"]) == ["$49.99"]
    assert chat_flags([]) == []
