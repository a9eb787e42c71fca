//! `batch(..).max_weight(..)`: count, weight and latency limits together, on virtual time.

mod support;

use streamz::testing::Marbles;
use streamz::{assert_marbles, StreamzExt, TryStreamzExt};
use support::ms;

/// The weight of a digit item is its value.
fn digit(c: &char) -> usize {
    c.to_digit(10).unwrap() as usize
}

#[test]
fn weighted_batch_leaves_before_the_item_that_would_overflow_it() {
    // 3 + 4 = 7 <= 8; 7 + 5 > 8: [3, 4] leaves as 5 arrives, and 5 opens the next batch,
    // whose deadline (100 ms) counts from its arrival at 20 ms.
    assert_marbles!(
        input:  "3 9ms 4 9ms 5",
        op:     |s, clock| s.batch(10, ms(100)).max_weight(8, digit).with_clock(clock),
        output: "20ms x 99ms y",
        values: { x => vec!['3', '4'], y => vec!['5'] },
    );
}

#[test]
fn weighted_batch_at_exactly_the_weight_waits_for_the_next_item() {
    assert_marbles!(
        input:  "44 8ms 0 9ms 1",
        op:     |s, clock| s.batch(10, ms(100)).max_weight(8, digit).with_clock(clock),
        output: "20ms x 99ms y",
        values: { x => vec!['4', '4', '0'], y => vec!['1'] },
    );
}

#[test]
fn an_item_heavier_than_the_limit_leaves_alone_at_once() {
    // With a batch pending: the batch leaves, then the heavy item, in the same instant.
    assert_marbles!(
        input:  "1 4ms 9 4ms (2|)",
        op:     |s, clock| s.batch(10, ms(100)).max_weight(5, digit).with_clock(clock),
        output: "5ms (xy) 4ms (z|)",
        values: { x => vec!['1'], y => vec!['9'], z => vec!['2'] },
    );
    // Into an empty batch.
    assert_marbles!(
        input:  "9 4ms 1",
        op:     |s, clock| s.batch(10, ms(100)).max_weight(5, digit).with_clock(clock),
        output: "x 104ms y",
        values: { x => vec!['9'], y => vec!['1'] },
    );
}

#[test]
fn count_weight_and_latency_limits_hold_together() {
    assert_marbles!(
        input:  "(1111) 9ms (22) 19ms 3 99ms |",
        op:     |s, clock| s.batch(3, ms(50)).max_weight(5, digit).with_clock(clock),
        output: "x 9ms y 69ms w 49ms |",
        values: { x => vec!['1', '1', '1'], y => vec!['1', '2', '2'], w => vec!['3'] },
    );
}

#[test]
fn zero_weight_items_never_overflow() {
    assert_marbles!(
        input:  "(000000|)",
        op:     |s, clock| s.batch(100, ms(50)).max_weight(0, digit).with_clock(clock),
        output: "(x|)",
        values: { x => vec!['0'; 6] },
    );
}

#[test]
fn try_batch_weighs_ok_values_and_passes_errors() {
    let recording = Marbles::new().run_try("3#4 8ms (5|)", "e", |s, clock| {
        s.try_batch(10, ms(100))
            .max_weight(8, |c: &char| c.to_digit(10).unwrap() as usize)
            .with_clock(clock)
    });
    recording.assert_values(
        "-#- 8ms (xy|)",
        [
            ('#', Err("e")),
            ('x', Ok(vec!['3', '4'])),
            ('y', Ok(vec!['5'])),
        ],
    );
}

#[test]
fn weighted_batch_debug_shows_the_weights() {
    let s = futures::stream::iter(['1'])
        .batch(4, ms(5))
        .max_weight(9, digit);
    let text = format!("{s:?}");
    assert!(text.contains("max_weight: 9"), "{text}");
}
