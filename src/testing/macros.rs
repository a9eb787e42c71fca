//! `assert_marbles!` and the helpers its expansion calls.

#[doc(hidden)]
pub fn __key(text: &str) -> char {
    let inner = text.trim_matches('\'');
    let mut chars = inner.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => c,
        _ => panic!("marble value keys are single characters, got `{text}`"),
    }
}

/// Runs an operator on an input marble diagram and asserts its output diagram.
///
/// ```
/// # use std::time::Duration;
/// # use streamz::{assert_marbles, StreamzExt, TryStreamzExt};
/// # let ms = Duration::from_millis;
/// assert_marbles!(
///     input:  "a-b-c---|",                 // items are the characters
///     op:     |s, clock| s.batch(2, ms(3)).with_clock(clock),
///     output: "--x----y|",
///     values: { x => vec!['a', 'b'], y => vec!['c'] },
/// );
/// assert_marbles!(
///     input:  "a-#-b|",
///     error:  "boom",                      // items are Result<char, &str>; `#` is Err("boom")
///     tick:   ms(10),                      // one frame = 10 ms (default 1 ms)
///     op:     |s, clock| s.try_debounce(ms(20)).with_clock(clock),
///     output: "--(a#)--(b|)",              // drawn with `Marble`: no values map needed
/// );
/// ```
///
/// The parts come in this order: `input`, then optionally `error` and `tick`, then `op` (a
/// closure taking the input stream and the [`ManualClock`](crate::ManualClock)), `output`, and
/// optionally `values` (`key => value` pairs; without them the output items are drawn with
/// [`Marble`](crate::testing::Marble)).
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
#[macro_export]
macro_rules! assert_marbles {
    (
        input: $input:expr,
        $(error: $error:expr,)?
        $(tick: $tick:expr,)?
        op: $op:expr,
        output: $output:expr
        $(, values: { $($key:tt => $value:expr),* $(,)? })?
        $(,)?
    ) => {{
        let marbles = $crate::testing::Marbles::new() $(.tick($tick))?;
        let recording = marbles.run_with(
            $input,
            $crate::testing::Chars $(.with_error($error))?,
            $op,
        );
        $crate::__assert_marbles_output!(recording, $output $(, { $($key => $value),* })?);
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __assert_marbles_output {
    ($recording:ident, $output:expr) => {
        $recording.assert_diagram($output)
    };
    ($recording:ident, $output:expr, { $($key:tt => $value:expr),* }) => {
        $recording.assert_values(
            $output,
            ::std::vec![$(($crate::testing::__key(stringify!($key)), $value)),*],
        )
    };
}
