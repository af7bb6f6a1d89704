"""The online segmenter: switch cost, the no-product state, and the one-window decision delay."""

from ampere.segmenter import NONE, Segmenter, SegmenterState


def run(seg, windows):
    state, out = SegmenterState(), []
    for emissions in windows:
        step = seg.step(state, emissions)
        out.append(step)
        state = step.state
    return out


def test_one_ambiguous_window_does_not_flip_the_tag():
    seg = Segmenter(switch_penalty=1.0, none_penalty=1.0, none_score=0.0)
    steps = run(seg, [{"A": 2.0, "B": 1.0}, {"A": 2.0, "B": 1.0}, {"A": 1.0, "B": 1.5}, {"A": 2.0, "B": 1.0}])
    assert [s.decision for s in steps] == ["A", "A", "A", "A"]


def test_a_clear_change_of_product_is_followed():
    seg = Segmenter(switch_penalty=1.0, none_penalty=1.0, none_score=0.0)
    steps = run(seg, [{"A": 3.0, "B": 1.0}] * 3 + [{"A": 1.0, "B": 3.0}] * 3)
    assert [s.decision for s in steps] == ["A", "A", "A", "B", "B", "B"]


def test_no_product_is_decided_where_nothing_scores_above_it():
    seg = Segmenter(switch_penalty=1.0, none_penalty=0.5, none_score=1.0)
    intro = [{"A": 0.4, "B": 0.3}] * 3
    product = [{"A": 3.0, "B": 1.0}] * 4
    steps = run(seg, intro + product + intro)
    assert [s.decision for s in steps] == [NONE] * 3 + ["A"] * 4 + [NONE] * 3


def test_the_delay_is_one_window_and_a_revision_names_the_previous_window():
    seg = Segmenter(switch_penalty=2.0, none_penalty=2.0, none_score=-5.0)
    # window 1 leans to B a little; window 2 says A clearly: with a switch cost, window 1 was A after all
    steps = run(seg, [{"A": 2.0, "B": 1.0}, {"A": 1.0, "B": 1.6}, {"A": 3.0, "B": 0.0}])
    assert steps[0].previous is None
    assert steps[1].decision == "A"  # the switch cost keeps A
    seg2 = Segmenter(switch_penalty=0.4, none_penalty=2.0, none_score=-5.0)
    s2 = run(seg2, [{"A": 2.0, "B": 1.0}, {"A": 1.0, "B": 1.6}, {"A": 3.0, "B": 0.0}])
    assert s2[1].decision == "B"  # provisional: B leads at window 1
    assert s2[2].decision == "A" and s2[2].previous == "A"  # final for window 1, one window later: A
    assert s2[2].state.decision == "A"


def test_state_is_small_and_round_trips():
    seg = Segmenter(1.0, 1.0, 0.0, keep=4)
    steps = run(seg, [{f"p{i}": float(i) for i in range(50)}] * 3)
    d = steps[-1].state.to_dict()
    assert len(d["scores"]) <= 5 and NONE in d["scores"]
    assert SegmenterState.of(d).scores == steps[-1].state.scores
    assert max(d["scores"].values()) == 0.0  # shifted: numbers stay small over a long stream
    assert 0.0 <= steps[-1].confidence <= 1.0


def test_frames_without_a_product_end_the_tag_where_the_scores_alone_do_not():
    from ampere.segmenter import none_score
    from ampere.settings import TaggerOptions

    o = TaggerOptions(none_score=1.0, none_penalty=0.5, switch_penalty=1.0, presence_weight=0.5, presence_pivot=7.0)
    seg = Segmenter(o.switch_penalty, o.none_penalty, o.none_score)
    # an outro: the chat still names A (it scores 1.5), the frames no longer show a product
    windows = [({"A": 3.0, "B": 1.0}, 8.0)] * 3 + [({"A": 1.5, "B": 0.5}, 3.0)] * 3

    def decisions(use_frames: bool):
        state, out = SegmenterState(), []
        for emissions, presence in windows:
            step = seg.step(state, emissions, none_score(o, presence if use_frames else None))
            out.append(step.decision)
            state = step.state
        return out

    assert decisions(False) == ["A"] * 6
    assert decisions(True) == ["A"] * 3 + [NONE] * 3
    # a frame that shows a product clearly lowers "no product" below the constant, an unknown one leaves it
    assert none_score(o, 9.0) < o.none_score == none_score(o, None)
    assert none_score(o.model_copy(update={"presence_weight": 0.0}), 0.0) == o.none_score


def test_a_product_shown_and_left_comes_back_only_on_clear_evidence():
    a, b = {"A": 3.0, "B": 1.0, "C": 0.0}, {"A": 1.0, "B": 3.0, "C": 0.0}
    # after A then B, a window where A and a new product C score alike
    tie = {"A": 2.0, "B": 0.0, "C": 1.8}
    plain = Segmenter(switch_penalty=0.5, none_penalty=1.0, none_score=-5.0)
    prior = Segmenter(switch_penalty=0.5, none_penalty=1.0, none_score=-5.0, return_penalty=1.0)
    windows = [a] * 3 + [b] * 3 + [tie] * 3
    assert [s.decision for s in run(plain, windows)][-3:] == ["A"] * 3
    steps = run(prior, windows)
    assert [s.decision for s in steps][-3:] == ["C"] * 3
    assert steps[5].state.left == ["A"] and steps[5].state.last == "B"
    # clear evidence still brings A back
    assert [s.decision for s in run(prior, windows[:6] + [{"A": 4.0, "B": 0.0, "C": 0.0}] * 3)][-2:] == ["A"] * 2


def test_a_stream_opens_with_nothing_on_air_when_asked():
    weak = {"A": 1.2, "B": 0.3}  # above "no product" (1.0), by less than entering a product costs (0.5)
    windows = [weak, {"A": 3.0, "B": 0.3}]
    plain = Segmenter(switch_penalty=1.0, none_penalty=0.5, none_score=1.0)
    opening = Segmenter(switch_penalty=1.0, none_penalty=0.5, none_score=1.0, start_in_none=True)
    assert run(plain, windows)[0].decision == "A"
    state, steps = opening.initial(), []
    for e in windows:
        steps.append(opening.step(state, e))
        state = steps[-1].state
    assert steps[0].decision == NONE and steps[0].previous is None  # no window before the first
    assert steps[1].decision == "A"


def test_the_memory_of_shown_products_survives_the_state_store_and_a_silent_window():
    seg = Segmenter(switch_penalty=0.5, none_penalty=1.0, none_score=-5.0, return_penalty=1.0)
    steps = run(seg, [{"A": 3.0, "B": 0.0}] * 2 + [{"A": 0.0, "B": 3.0}] * 3)
    state = SegmenterState.of(steps[-1].state.to_dict())
    assert state.left == ["A"] and state.last == "B"
    silent = state.after_none()
    assert silent.scores == {NONE: 0.0} and silent.decision == NONE and silent.left == ["A"]


def test_a_stream_closes_with_nothing_on_air_when_asked():
    seg = Segmenter(switch_penalty=1.0, none_penalty=0.5, none_score=1.0, end_in_none=True)
    a = {"A": 3.0, "B": 0.3}
    # the chat still names A: below "no product" (1.0), by less than entering "no product" costs (0.5)
    outro = {"A": 0.8, "B": 0.3}
    steps = run(seg, [a, a, outro])
    assert steps[-1].decision == "A"  # not known to be the last window: the path stays on A
    state = steps[-2].state
    end = seg.step(state, outro, last=True)
    assert end.decision == NONE
    assert Segmenter(1.0, 0.5, 1.0).step(state, outro, last=True).decision == "A"  # without the prior
