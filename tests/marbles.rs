//! The marble harness itself: parser, driver, rendering and failure reports.

mod support;

use std::time::Duration;

use futures::stream::{self, StreamExt};
use streamz::testing::{Diagram, Driver, Marbles, Mark};
use streamz::{assert_marbles, StreamzExt};
use support::ms;

fn parse(text: &str) -> Vec<Vec<Mark>> {
    Diagram::parse(text, ms(1)).unwrap().frames().to_vec()
}

fn parse_error(text: &str) -> (usize, String) {
    let e = Diagram::parse(text, ms(1)).unwrap_err();
    (e.column(), e.message().to_string())
}

use Mark::{End, Error, Value};

#[test]
fn parser_reads_every_element() {
    assert_eq!(parse(""), Vec::<Vec<Mark>>::new());
    assert_eq!(parse("-"), vec![vec![]]);
    assert_eq!(
        parse("a-7Z"),
        vec![vec![Value('a')], vec![], vec![Value('7')], vec![Value('Z')]]
    );
    assert_eq!(parse("#|"), vec![vec![Error], vec![End]]);
    // A group is one frame, whatever its length.
    assert_eq!(
        parse("(ab#)-c"),
        vec![
            vec![Value('a'), Value('b'), Error],
            vec![],
            vec![Value('c')]
        ]
    );
    assert_eq!(parse("(c|)"), vec![vec![Value('c'), End]]);
    // Spaces align and count for nothing.
    assert_eq!(parse("  a -  b  "), parse("a-b"));
}

#[test]
fn parser_reads_time_spans_as_empty_frames() {
    let frames = parse("a 5ms b");
    assert_eq!(frames.len(), 7);
    assert_eq!(frames[0], vec![Value('a')]);
    assert!(frames[1..6].iter().all(Vec::is_empty));
    assert_eq!(frames[6], vec![Value('b')]);
    assert_eq!(parse("1s").len(), 1000);
    assert_eq!(parse("1.5s").len(), 1500);
    assert_eq!(parse("a 0ms b"), parse("ab"));
    // At a tick of 10 ms, 100ms is ten frames.
    let frames = Diagram::parse("100ms |", ms(10)).unwrap();
    assert_eq!(frames.frames().len(), 11);
    // Digits and `s` that are not a word of their own are values.
    assert_eq!(
        parse("a1s"),
        vec![vec![Value('a')], vec![Value('1')], vec![Value('s')]]
    );
    assert_eq!(parse("12"), vec![vec![Value('1')], vec![Value('2')]]);
}

#[test]
fn parser_reports_malformed_diagrams_with_their_column() {
    assert_eq!(
        parse_error("a-(b"),
        (3, "group `(` is never closed".to_string())
    );
    assert_eq!(parse_error("a)"), (2, "`)` without a `(`".to_string()));
    assert_eq!(parse_error("((a))").0, 2);
    assert!(parse_error("((a))").1.contains("nested"));
    assert_eq!(parse_error("a()").0, 3);
    assert!(parse_error("a()").1.contains("empty group"));
    assert_eq!(parse_error("(a-b)").0, 3);
    assert_eq!(parse_error("a|b").0, 3);
    assert!(parse_error("a|b").1.contains("follow the end"));
    assert_eq!(parse_error("a|-").0, 3);
    assert_eq!(parse_error("a | 5ms").0, 5);
    assert_eq!(parse_error("ab*").0, 3);
    assert!(parse_error("ab*").1.contains("unexpected character `*`"));
    let e = Diagram::parse("a 15ms b", ms(10)).unwrap_err();
    assert_eq!(e.column(), 3);
    assert!(
        e.message().contains("whole number of ticks"),
        "{}",
        e.message()
    );
    // The message shows the diagram with a caret under the column.
    let e = Diagram::parse("ab*", ms(1)).unwrap_err();
    assert_eq!(
        e.to_string(),
        concat!(
            "bad marble diagram: unexpected character `*` (values are letters and digits) ",
            "(column 3)\n  ab*\n    ^"
        )
    );
}

#[test]
fn driver_records_the_frame_of_each_output() {
    let recording = Marbles::new().run("a-(bc)--|", |s, _clock| s);
    let events: Vec<(u64, Option<char>)> = recording.events().to_vec();
    assert_eq!(
        events,
        vec![(0, Some('a')), (2, Some('b')), (2, Some('c')), (5, None)]
    );
    assert_eq!(recording.render(), "a-(bc)--|");
}

#[test]
fn driver_works_for_futures_combinators() {
    assert_marbles!(
        input: "a-b-c-|",
        op: |s, _clock| s.filter(|c| std::future::ready(*c != 'b')).map(|c| c.to_ascii_uppercase()),
        output: "A---C-|",
    );
    assert_marbles!(
        input: "1-2-3|",
        op: |s, _clock| s.map(|c| c.to_digit(10).unwrap()).scan(0, |sum, d| {
            *sum += d;
            std::future::ready(Some(*sum))
        }),
        output: "1-3-6|",
    );
    // `ready_chunks` sees the whole group at once.
    assert_marbles!(
        input: "(abc)-d|",
        op: |s, _clock| s.ready_chunks(2),
        output: "(xy)-z|",
        values: { x => vec!['a', 'b'], y => vec!['c'], z => vec!['d'] },
    );
}

#[test]
fn driver_jumps_to_timers_and_stops_when_nothing_can_happen() {
    // An hour-long quiet period: the run jumps to the timer instead of stepping 3.6 million
    // frames, and the drawing compresses the gap.
    let recording = Marbles::new().run("a", |s, clock| {
        s.debounce(Duration::from_secs(3600)).with_clock(clock)
    });
    assert_eq!(recording.events().to_vec(), vec![(3_600_000, Some('a'))]);
    assert_eq!(recording.render(), "3600s a");
    // An input without an end, and no timers: the run stops, and no end is recorded.
    let recording = Marbles::new().run("a-b", |s, _clock| s);
    assert_eq!(recording.render(), "a-b");
}

#[test]
fn driver_polls_only_after_a_wake() {
    // A stream that forgets to register the waker: its item never shows.
    struct Forgetful(bool);
    impl futures::Stream for Forgetful {
        type Item = char;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<char>> {
            if self.0 {
                self.0 = false;
                return std::task::Poll::Pending;
            }
            std::task::Poll::Ready(Some('x'))
        }
    }
    let recording = Marbles::new().run("--|", |_s, _clock| Forgetful(true));
    assert_eq!(recording.events().len(), 0);
}

#[test]
#[should_panic(expected = "the stream keeps waking itself: 1000 polls without going idle")]
fn driver_panics_on_a_stream_that_wakes_itself_without_end() {
    let spinning = stream::poll_fn(|cx| {
        cx.waker().wake_by_ref();
        std::task::Poll::<Option<u8>>::Pending
    });
    Driver::new(spinning).max_polls(1000).run(|_| {});
}

#[test]
fn error_marks_become_errors_of_result_streams() {
    let recording = Marbles::new().run_try("a#(b#)|", 7u8, |s, _clock| s);
    let values: Vec<Result<char, u8>> = recording.values().into_iter().cloned().collect();
    assert_eq!(values, vec![Ok('a'), Err(7), Ok('b'), Err(7)]);
    recording.assert_diagram("a#(b#)|");
}

#[test]
fn custom_input_values() {
    let recording = Marbles::new().run_with(
        "a-b|",
        |mark| match mark {
            Mark::Value(c) => c as u32 - 'a' as u32 + 1,
            _ => 0,
        },
        |s, _clock| s.map(|n| n * 10),
    );
    recording.assert_values("x-y|", [('x', 10), ('y', 20)]);
}

#[test]
fn failure_report_aligns_the_diagrams_and_names_the_first_difference() {
    let recording = Marbles::new().run("a-b-c---|", |s, clock| s.batch(2, ms(3)).with_clock(clock));
    let report = recording
        .check_values("--x---y-|", [('x', vec!['a', 'b']), ('y', vec!['c'])])
        .unwrap_err()
        .to_string();
    let expected = "\
marble diagrams differ (one frame = 1ms)
  expected: --x---y-|
  actual:   --x----y|
                  ^ frame 6 (6ms)
  expected there: y = ['c']
  actual there:   nothing";
    assert_eq!(report, expected);
    println!("{report}");
}

#[test]
fn failure_report_shows_values_missing_from_the_map() {
    let recording = Marbles::new().run("abc|", |s, _clock| s.batch(2, ms(5)));
    let report = recording
        .check_values("-x-(y|)", [('x', vec!['a', 'b']), ('y', vec!['z'])])
        .unwrap_err()
        .to_string();
    let expected = "\
marble diagrams differ (one frame = 1ms)
  expected: -x-(y|)
  actual:   -x-(?|)
               ^ frame 3 (3ms)
  expected there: y = ['z'], | (end)
  actual there:   ? = ['c'] (not in the values map), | (end)";
    assert_eq!(report, expected);
}

#[test]
fn failure_report_for_drawn_values_and_groups() {
    let recording = Marbles::new().run("(ab)-c|", |s, _clock| s);
    let report = recording.check_diagram("a-b-c|").unwrap_err().to_string();
    let expected = "\
marble diagrams differ (one frame = 1ms)
  expected: a   -b-c|
  actual:   (ab)-c|
            ^ frame 0 (0ns)
  expected there: a
  actual there:   a = 'a', b = 'b'";
    assert_eq!(report, expected);
}

#[test]
fn rendering_compresses_long_quiet_stretches() {
    let recording = Marbles::new().run("a 20ms b 1s |", |s, _clock| s);
    assert_eq!(recording.render(), "a 20ms b 1s |");
    // The compressed form parses back to the same frames.
    recording.assert_diagram(&recording.render());
    recording.assert_diagram("a--------------------b 1000ms |");
}

#[test]
#[should_panic(expected = "marble diagrams differ")]
fn assert_marbles_panics_with_the_report() {
    assert_marbles!(input: "a|", op: |s, _clock| s, output: "-a|");
}

#[test]
fn ticks_scale_time_spans_and_reports() {
    let recording = Marbles::new().tick(ms(10)).run("a---|", |s, clock| {
        s.throttle(ms(25))
            .edge(streamz::Edge::Trailing)
            .with_clock(clock)
    });
    // The window ends at 25 ms, which the 10 ms frames reach at frame 3.
    recording.assert_diagram("---a|");
    let _ = stream::empty::<u8>();
}
