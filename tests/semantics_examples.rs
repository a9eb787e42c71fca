//! Worked examples of the rules stated in the README sections "`batch(max_size, max_latency)` —
//! exact semantics", "`throttle(period)` — exact semantics" and "`debounce(quiet)` — exact
//! semantics", as marble tests: one frame = 1 ms, time spans skip the quiet stretches. Each test
//! names its section and rule, then gives its example as `time:input | adapter | time:output`.

mod support;

use streamz::testing::Marbles;
use streamz::{assert_marbles, Edge, StreamzExt, TryStreamzExt};
use support::ms;

#[test]
fn batch_flushes_at_size_then_at_end() {
    // README, "`batch(max_size, max_latency)` — exact semantics", rules 1 and 3: a batch leaves at
    // once when it holds `max_size` items; at the end, the partial batch leaves, then the end.
    // 0:1 0:2 0:3 0:4 0:5, end | batch(3, 100ms) | 0:[1,2,3] 0:[4,5] end
    assert_marbles!(
        input:  "(12345|)",
        op:     |s, clock| s.batch(3, ms(100)).with_clock(clock),
        output: "(xy|)",
        values: { x => vec!['1', '2', '3'], y => vec!['4', '5'] },
    );
}

#[test]
fn batch_flushes_at_the_deadline_of_its_first_item() {
    // README, "`batch(max_size, max_latency)` — exact semantics", rule 2: a batch leaves at its
    // deadline, its first item's arrival plus `max_latency`.
    // 0:1 60:2 60:3 | batch(10, 100ms) | 100:[1,2,3]
    assert_marbles!(
        input:  "1 59ms (23)",
        op:     |s, clock| s.batch(10, ms(100)).with_clock(clock),
        output: "100ms x",
        values: { x => vec!['1', '2', '3'] },
    );
}

#[test]
fn batch_item_at_the_deadline_goes_into_the_next_batch() {
    // README, "`batch(max_size, max_latency)` — exact semantics", rule 2: deadlines are inclusive,
    // so an item that arrives at the deadline goes into the next batch.
    // 0:1, then at 100: 2 ready while the deadline passes | batch(10, 100ms) | 100:[1] 200:[2]
    assert_marbles!(
        input:  "1 99ms 2",
        op:     |s, clock| s.batch(10, ms(100)).with_clock(clock),
        output: "100ms x 99ms y",
        values: { x => vec!['1'], y => vec!['2'] },
    );
}

#[test]
fn try_batch_error_overtakes_the_pending_batch() {
    // README, "`batch(max_size, max_latency)` — exact semantics": `try_batch` yields every `Err` at
    // once, ahead of the pending batch.
    // 0:Ok(1) 0:Ok(2) 0:Err(e) | try_batch(10, 100ms) | 0:Err(e) 100:[1,2]
    let recording = Marbles::new().run_try("(12#)", "e", |s, clock| {
        s.try_batch(10, ms(100)).with_clock(clock)
    });
    recording.assert_values("# 99ms x", [('#', Err("e")), ('x', Ok(vec!['1', '2']))]);
}

#[test]
fn throttle_leading() {
    // README, "`throttle(period)` — exact semantics", `Edge::Leading`: items arriving while the
    // window is open are dropped; one arriving exactly at its end passes.
    // 0:a 10:b 99:c 100:d 150:e 200:f | throttle(100ms) | 0:a 100:d 200:f
    assert_marbles!(
        input:  "a 9ms b 88ms cd 49ms e 49ms f",
        op:     |s, clock| s.throttle(ms(100)).with_clock(clock),
        output: "a 99ms d 99ms f",
    );
}

#[test]
fn throttle_both_lone_window() {
    // README, "`throttle(period)` — exact semantics", `Edge::Both`: at the end of the window, the
    // latest item received during it is yielded.
    // 0:a 10:b 50:c | throttle(100ms).edge(Both) | 0:a 100:c
    assert_marbles!(
        input:  "a 9ms b 39ms c",
        op:     |s, clock| s.throttle(ms(100)).edge(Edge::Both).with_clock(clock),
        output: "a 99ms c",
    );
}

#[test]
fn throttle_both_chained_windows() {
    // README, "`throttle(period)` — exact semantics", `Edge::Both`: a trailing emission opens the
    // next window.
    // 0:a 10:b 150:c 250:d | throttle(100ms).edge(Both) | 0:a 100:b 200:c 300:d
    assert_marbles!(
        input:  "a 9ms b 139ms c 99ms d",
        op:     |s, clock| s.throttle(ms(100)).edge(Edge::Both).with_clock(clock),
        output: "a 99ms b 99ms c 99ms d",
    );
}

#[test]
fn throttle_trailing() {
    // README, "`throttle(period)` — exact semantics", `Edge::Trailing`: the first item opens the
    // window silently; at its end the latest item is yielded, and that emission opens the next
    // window.
    // 0:a 10:b 150:c | throttle(100ms).edge(Trailing) | 100:b 200:c
    assert_marbles!(
        input:  "a 9ms b 139ms c",
        op:     |s, clock| s.throttle(ms(100)).edge(Edge::Trailing).with_clock(clock),
        output: "100ms b 99ms c",
    );
}

#[test]
fn debounce_end_flushes_at_once() {
    // README, "`debounce(quiet)` — exact semantics": at the end of the stream, a pending item is
    // yielded at once, then the end.
    // 0:a 10:b 20:c, end at 30 | debounce(100ms) | 30:c end
    assert_marbles!(
        input:  "a 9ms b 9ms c 9ms |",
        op:     |s, clock| s.debounce(ms(100)).with_clock(clock),
        output: "30ms (c|)",
    );
}

#[test]
fn debounce_trailing() {
    // README, "`debounce(quiet)` — exact semantics", `Edge::Trailing`: the latest item is yielded
    // when `quiet` passes with no new item.
    // 0:a 50:b | debounce(100ms) | 150:b
    assert_marbles!(
        input:  "a 49ms b",
        op:     |s, clock| s.debounce(ms(100)).with_clock(clock),
        output: "150ms b",
    );
}

#[test]
fn debounce_trailing_max_wait() {
    // README, "`debounce(quiet)` — exact semantics", `max_wait(d)`, Trailing: the pending item is
    // yielded at `d`, and the next item starts a new run.
    // 0:a 50:b 100:c 150:d 200:e, end at 210 | debounce(100ms).max_wait(200ms) | 200:d 210:e end
    assert_marbles!(
        input:  "a 49ms b 49ms c 49ms d 49ms e 9ms |",
        op:     |s, clock| s.debounce(ms(100)).max_wait(ms(200)).with_clock(clock),
        output: "200ms d 9ms (e|)",
    );
}

#[test]
fn debounce_leading_max_wait() {
    // README, "`debounce(quiet)` — exact semantics", `max_wait(d)`, Leading: the first item after
    // `d` leads although the quiet period still runs.
    // 0:a 50:b 100:c 150:d 200:e 250:f | debounce(100ms).edge(Leading).max_wait(200ms) | 0:a 200:e
    assert_marbles!(
        input:  "a 49ms b 49ms c 49ms d 49ms e 49ms f",
        op:     |s, clock| {
            s.debounce(ms(100)).edge(Edge::Leading).max_wait(ms(200)).with_clock(clock)
        },
        output: "a 199ms e",
    );
}

#[test]
fn debounce_both_max_wait() {
    // README, "`debounce(quiet)` — exact semantics", `max_wait(d)`, Both: the pending item is
    // yielded at `d`; the quiet period keeps running, so the next item is a trailing candidate of a
    // new run.
    // 0:a 50:b 100:c 150:d 200:e 250:f | debounce(100ms).edge(Both).max_wait(200ms)
    //   | 0:a 200:d 350:f
    assert_marbles!(
        input:  "a 49ms b 49ms c 49ms d 49ms e 49ms f",
        op:     |s, clock| {
            s.debounce(ms(100)).edge(Edge::Both).max_wait(ms(200)).with_clock(clock)
        },
        output: "a 199ms d 149ms f",
    );
}

#[test]
fn readme_adapter_index_holds() {
    // README, "Adapters": the table of adapters at the top (and of the crate docs).
    let input = "a-b-c----d-e-f|";
    let marbles = Marbles::new().tick(ms(10));
    marbles
        .run(input, |s, clock| s.batch(3, ms(40)).with_clock(clock))
        .assert_values(
            "----w---x----y(z|)",
            [
                ('w', vec!['a', 'b']),
                ('x', vec!['c']),
                ('y', vec!['d', 'e']),
                ('z', vec!['f']),
            ],
        );
    marbles
        .run(input, |s, clock| s.throttle(ms(30)).with_clock(clock))
        .assert_diagram("a---c----d---f|");
    marbles
        .run(input, |s, clock| s.debounce(ms(30)).with_clock(clock))
        .assert_diagram("-------c------(f|)");
}
