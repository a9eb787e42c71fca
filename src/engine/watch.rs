//! What an adapter knows of time: its clock, its one timer (the [`Alarm`]), and what the
//! latest readings and the alarm tell. The words are those of the engine's glossary
//! ([`engine`](crate::engine)).

use std::sync::atomic::AtomicBool;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::alarm::Alarm;
use super::machine::checked_deadline;
use super::run::NEVER;
use crate::clock::Clock;

/// Items arrive densely when, between two readings, they came closer than this apart on
/// average (or than the timer resolution, if that is finer). A reading (about 25 ns) is then
/// worth saving; for items further apart it costs about 1% of their pace or less.
const DENSE: Duration = Duration::from_micros(2);

/// While a deadline is held, the clock is read once this many items came without a reading,
/// even though the alarm watches: a timer can fire later than its resolution says
/// (futures-timer's thread waiting for a core), and a source that turned from dense to slow
/// is seen slow only by a reading. A reading costs about 25 ns; this many dense items, at
/// least 10 times that on the fastest sources. (Fewer, as the alarm's latest instant nears:
/// see [`Watch::unread`].)
const UNREAD: u64 = 4096;

/// The pace of dense items is measured over at least this many (see [`Watch::unread`]).
const SPAN: u64 = 64;

/// Within this many items (at their pace) of the machine's next deadline, each gets a reading
/// while the timer has not fired: items that come in bursts cover the last few in more or
/// less time than their pace says.
const CLOSE: u64 = 16;

/// The clock, the alarm, and what they tell.
pub(crate) struct Watch<C: Clock> {
    pub(crate) clock: C,
    alarm: Option<Alarm<C::Timer>>,
    /// The instant the alarm is armed for, until its firing is acted on.
    armed: Option<Instant>,
    /// [`Clock::timer_resolution`], at least a nanosecond; `None`: the alarm is not trusted
    /// while a call runs.
    resolution: Option<Duration>,
    /// How late the alarm may fire: [`Clock::timer_resolution`] itself.
    lag: Duration,
    /// The latest reading, and one resolution after it.
    now: Instant,
    tick: Option<Instant>,
    /// The latest instant the alarm fires at if it keeps its resolution, `armed + lag`; and
    /// the same for an alarm armed for `tick`.
    fires: Option<Instant>,
    tick_fires: Option<Instant>,
    /// What a watched arrival is taken to be: the latest instant it can be, the instant before
    /// the alarm would fire at its latest, `armed + lag` (or `now`).
    pub(crate) latest: Instant,
    /// The latest reading is past the instant before the alarm would fire at its latest,
    /// and it has not fired: the timer is late, and `latest` bounds nothing.
    overdue: bool,
    /// The alarm may date arrivals (see [`tight`](Watch::tight)).
    dates: bool,
    /// Items arrive densely (see [`DENSE`]), by the latest reading taken after some arrived,
    /// `paced_at`; and the items that arrived since (`taken`).
    pub(crate) dense: bool,
    paced_at: Option<Instant>,
    taken: u64,
    /// The pace of dense items, as so many items in so many nanoseconds, measured over at
    /// least [`SPAN`] of them and some time (`None`: not yet), and the span being measured:
    /// its time in nanoseconds and its items (its pace stands in until then).
    pace: Option<(u64, u64)>,
    span_time: u64,
    span_items: u64,
    /// At the pace measured, the time of [`UNREAD`] items and a few, in nanoseconds: a
    /// deadline further away waits for [`UNREAD`] items (`u64::MAX`: time stands still).
    far: u64,
    /// How many items may arrive before the next reading while the alarm watches (counted
    /// in `taken`): see [`unread`](Watch::unread).
    unread: u64,
    /// The machine's horizon is its next deadline (items do not arrive densely, or there is
    /// no resolution): kept with `bound` as `now`, `armed` or `dense` change.
    free: bool,
    /// `fires`, if the alarm can watch a horizon at or after it: the clock has a resolution,
    /// items arrive densely, and the alarm fires by one resolution after the latest reading.
    /// (Items further apart get a reading each, which costs little next to them; so a timer
    /// that fires later than its resolution delays no deadline on them.)
    bound: Option<Instant>,
}

impl<C: Clock> Watch<C> {
    pub(crate) fn new(clock: C) -> Self {
        let now = clock.now();
        let resolution = clock.timer_resolution();
        let mut watch = Watch {
            resolution: None,
            lag: Duration::ZERO,
            clock,
            alarm: None,
            armed: None,
            now,
            tick: None,
            fires: None,
            tick_fires: None,
            latest: now,
            overdue: false,
            dates: false,
            dense: false,
            paced_at: None,
            taken: 0,
            pace: None,
            span_time: 0,
            span_items: 0,
            far: u64::MAX,
            unread: UNREAD,
            free: true,
            bound: None,
        };
        watch.set_resolution(resolution);
        watch
    }

    /// Takes [`Clock::timer_resolution`] as the alarm's.
    fn set_resolution(&mut self, resolution: Option<Duration>) {
        self.resolution = resolution.map(|r| r.max(Duration::from_nanos(1)));
        self.lag = resolution.unwrap_or(Duration::ZERO);
        // A date from a timer of some lateness holds only once a reading bounds it; without
        // the timer's own reading, the next one may come after later items (a slow item, a
        // pause), and moving the date to it would put it after theirs.
        self.dates = self.lag == Duration::ZERO || self.clock.reader().is_some();
        self.update_times();
    }

    /// The latest reading of the clock.
    pub(crate) fn last_reading(&self) -> Instant {
        self.now
    }

    /// Whether the alarm has fired, and that is not yet acted on.
    #[inline]
    pub(crate) fn fired(&self) -> bool {
        self.armed.is_some() && self.alarm.as_ref().is_some_and(Alarm::fired)
    }

    /// The horizon of a machine whose next deadline is `next` (see the engine's glossary), as
    /// the instant by which the alarm must have fired (the alarm is armed one `lag` before it:
    /// while its flag is down, the horizon has not come).
    #[inline]
    pub(crate) fn horizon(&self, next: Option<Instant>) -> Option<Instant> {
        match self.tick_fires {
            Some(tick) if self.dense => Some(next.map_or(tick, |next| next.min(tick))),
            _ => next,
        }
    }

    /// Whether the alarm watches a machine whose next deadline is `next`: the machine has no
    /// horizon, or the alarm fires by it and has not fired, and fewer items arrived since the
    /// latest reading than may arrive unread (see [`unread`](Watch::unread): a timer may fire
    /// later than its resolution says).
    #[inline]
    pub(crate) fn watches(&self, next: Option<Instant>) -> bool {
        let by_bound = match next {
            None if self.free => return true,
            None => self.bound.is_some(),
            Some(next) => self.bound.is_some_and(|bound| bound <= next),
        };
        by_bound && self.fresh() && !self.fired()
    }

    /// Fewer items arrived since the latest reading than may arrive without one.
    #[inline]
    fn fresh(&self) -> bool {
        self.taken < self.unread
    }

    /// How many more items a run may take before the clock is read again (if it is read
    /// only because the alarm watches).
    #[inline]
    pub(crate) fn room(&self) -> u32 {
        // At most `UNREAD`.
        self.unread.saturating_sub(self.taken) as u32
    }

    /// Whether a machine whose next deadline is `next` has no horizon.
    #[inline]
    pub(crate) fn unbounded(&self, next: Option<Instant>) -> bool {
        next.is_none() && self.free
    }

    /// Whether the alarm is tight: it may date arrivals (its lateness is zero, or the clock
    /// has a reader), it is armed within one resolution of the latest reading, not
    /// fired (its flag is read here: an alarm that watches a machine with no deadline is not
    /// looked at otherwise), and not overdue (a reading past the latest instant it could fire
    /// at, while it has not fired, shows a late timer: what it tells of an arrival bounds
    /// nothing).
    #[inline]
    pub(crate) fn tight(&self) -> bool {
        self.dates
            && !self.overdue
            && !self.fired()
            && matches!((self.armed, self.tick), (Some(armed), Some(tick)) if armed <= tick)
    }

    /// The alarm's flag, if the alarm is [`tight`](Watch::tight).
    #[inline]
    pub(crate) fn tight_flag(&self) -> Option<&AtomicBool> {
        self.alarm
            .as_ref()
            .filter(|_| self.tight())
            .map(Alarm::flag)
    }

    /// The flag a run watches, if the items can be taken in a run: the alarm watches the
    /// machine (whose next deadline is `next`), or it has no horizon.
    #[inline]
    pub(crate) fn run_flag(&self, next: Option<Instant>) -> Option<&AtomicBool> {
        if self.unbounded(next) {
            Some(&NEVER)
        } else if self.watches(next) {
            self.alarm.as_ref().map(Alarm::flag)
        } else {
            None
        }
    }

    /// `items` more items arrived (to be counted by the next reading).
    #[inline]
    pub(crate) fn took(&mut self, items: u32) {
        self.taken += u64::from(items);
    }

    /// A reading `now` was taken after every item counted: whether they came densely since
    /// the reading before.
    fn pace(&mut self, now: Instant) {
        if self.taken == 0 {
            return;
        }
        if let Some(r) = self.resolution {
            let dense = r.min(DENSE);
            let items = u32::try_from(self.taken).unwrap_or(u32::MAX);
            let since = self
                .paced_at
                .map(|last| now.saturating_duration_since(last));
            self.dense = since.is_some_and(|since| since < dense.saturating_mul(items));
            if let Some(since) = since {
                self.measure(nanos(since), dense);
            }
        }
        self.paced_at = Some(now);
        self.taken = 0;
    }

    /// Measures the pace at a reading taken `since` ns after the one before, over enough
    /// items and time that it is their average, not that of the latest few (near a deadline,
    /// readings may be an item apart; items may come in bursts, with a gap between): a span
    /// of readings that covers
    /// [`least_span`](Watch::least_span) and at least [`SPAN`] items that came densely on
    /// average (closer than `dense`) is the pace; one that covers that time with items
    /// further apart makes the pace forgotten. A span of [`UNREAD`] items in which no time
    /// passed shows time standing still.
    fn measure(&mut self, since: u64, dense: Duration) {
        self.span_items += self.taken;
        self.span_time = self.span_time.saturating_add(since);
        let (items, span) = (self.span_items, self.span_time);
        // Ends once it covers its least time, or holds `UNREAD` items in no time at all.
        let ends = span >= self.least_span() || (span == 0 && items >= UNREAD);
        if !ends {
            return;
        }
        let came_densely = u128::from(span) < u128::from(nanos(dense)) * u128::from(items);
        if !came_densely {
            self.pace = None;
        } else if items >= SPAN {
            self.pace = Some((items, span));
            self.far = match span {
                0 => u64::MAX,
                _ => {
                    let far = u128::from(UNREAD * 4 / 3 + CLOSE) * u128::from(span);
                    u64::try_from(far / u128::from(items)).unwrap_or(u64::MAX)
                }
            };
        } else {
            return;
        }
        self.span_time = 0;
        self.span_items = 0;
    }

    /// An instant after every arrival seen with the alarm's flag down, given a reading `now`
    /// taken after them: the instant its firing was read at, if it has fired and that is
    /// known and earlier, else `now`.
    pub(crate) fn bound(&self, now: Instant) -> Instant {
        match self.alarm.as_ref().filter(|alarm| alarm.fired()) {
            Some(alarm) => alarm.fired_at().map_or(now, |at| at.min(now)),
            None => now,
        }
    }

    /// A reading `now` was taken by the machine (for an arriving item) or as a call ends,
    /// leaving a firing of the alarm to be acted on.
    pub(crate) fn observe(&mut self, now: Instant) {
        self.pace(now);
        if now > self.now {
            self.now = now;
            self.update_times();
        } else {
            self.update_bound();
        }
    }

    /// Reads the clock. A firing of the alarm is taken as acted on; its instant is trusted
    /// even if the clock reads a hair earlier, so that a firing cannot turn into a busy loop.
    pub(crate) fn read(&mut self) -> Instant {
        let mut now = self.clock.now();
        self.pace(now);
        if let Some(armed) = self.armed.filter(|_| self.fired()) {
            self.armed = None;
            now = now.max(armed);
        }
        self.now = self.now.max(now);
        self.update_times();
        self.now
    }

    /// The least time a span of the pace covers: four resolutions of the timer (items that
    /// come in bursts, a gap between, average out over it), and more than none.
    fn least_span(&self) -> u64 {
        nanos(self.lag).saturating_mul(4).max(1)
    }

    /// The pace measured, or, until there is one, that of the span being measured if some
    /// time passed over it.
    fn pace_now(&self) -> Option<(u64, u64)> {
        self.pace.or_else(|| {
            (self.span_items > 0 && self.span_time > 0).then_some((self.span_items, self.span_time))
        })
    }

    /// Sets `tick` and `latest` after `now` or `armed` changed.
    fn update_times(&mut self) {
        self.tick = self.resolution.and_then(|r| checked_deadline(self.now, r));
        self.tick_fires = self
            .tick
            .map(|tick| checked_deadline(tick, self.lag).unwrap_or(tick));
        self.fires = self
            .armed
            .map(|armed| checked_deadline(armed, self.lag).unwrap_or(armed));
        let before = match self.fires {
            Some(fires) if self.resolution.is_some() => {
                fires.checked_sub(Duration::from_nanos(1)).unwrap_or(fires)
            }
            _ => self.now,
        };
        self.overdue = before < self.now;
        self.latest = before.max(self.now);
        self.update_bound();
    }

    /// Sets how many items may arrive before the clock is read again, though the alarm
    /// watches, for a deadline at `until`: at most [`UNREAD`]; at the items' pace, three
    /// quarters of those that arrive before `until`; none within [`CLOSE`] items of it. So on
    /// a source of steady pace the readings close in on `until`, and the item that reaches
    /// it gets one, even if the timer fires late; a source that slows down is caught by the
    /// timer. Until the pace is measured, that of the items so far stands in.
    fn unread(&mut self, until: Option<Instant>) {
        // (Only while items arrive densely does the alarm watch them.)
        let Some(until) = until.filter(|_| self.dense) else {
            self.unread = UNREAD;
            return;
        };
        // A reading (a machine's own, for an item) showed the deadline reached: the next
        // event gets the engine's, which acts on it.
        if until <= self.now {
            self.unread = 0;
            return;
        }
        // No pace yet, and no time passed over the span being measured; or time stands still.
        let Some((items, span)) = self.pace_now().filter(|&(_, span)| span > 0) else {
            self.unread = UNREAD;
            return;
        };
        let left = nanos(until.saturating_duration_since(self.now));
        self.unread = if self.pace.is_some() && left >= self.far {
            UNREAD
        } else {
            // Items `k` with `k * span / items < left`.
            let before =
                (u128::from(left) * u128::from(items)).saturating_sub(1) / u128::from(span);
            let before = u64::try_from(before).unwrap_or(u64::MAX);
            if before < CLOSE {
                0
            } else {
                (before.min(2 * UNREAD) * 3 / 4).min(UNREAD)
            }
        };
    }

    /// Sets `free`, `bound` and `unread` after `dense` or the times changed.
    fn update_bound(&mut self) {
        self.free = !self.dense || self.tick_fires.is_none();
        self.bound = self.fires.filter(|&fires| {
            self.dense
                && self.resolution.is_some()
                && self.tick_fires.is_some_and(|tick| fires <= tick)
        });
        self.unread(self.bound);
    }

    /// Arms the alarm for the horizon of a machine whose next deadline is `next`, unless it is
    /// armed for that or earlier.
    pub(crate) fn watch(&mut self, next: Option<Instant>) {
        if let Some(horizon) = self.horizon(next).filter(|_| self.resolution.is_some()) {
            if !self.fires.is_some_and(|fires| fires <= horizon) {
                // A horizon less than one `lag` away is watched by readings.
                let at = horizon.checked_sub(self.lag).unwrap_or(horizon);
                if at > self.now {
                    self.arm(at);
                }
            }
        }
        // Readings close in on the deadline itself, not on the alarm's instant (which may be
        // one resolution after the latest reading, to date items).
        self.unread(next);
    }

    #[cold]
    #[inline(never)]
    fn arm(&mut self, at: Instant) {
        match &mut self.alarm {
            Some(alarm) => alarm.arm(at),
            None => {
                let timer = self.clock.timer(at);
                self.alarm = Some(Alarm::new(timer, self.clock.reader(), self.now));
                // A clock may hand out another kind of timer where it is now (the default
                // clock, inside a tokio runtime): take the resolution of the one it made.
                self.set_resolution(self.clock.timer_resolution());
            }
        }
        self.armed = Some(at);
        self.update_times();
    }

    /// Drops the alarm: nothing is left to wait for.
    pub(crate) fn release(&mut self) {
        self.alarm = None;
        self.armed = None;
        self.update_times();
    }

    /// Makes the alarm wake nobody: nothing is due.
    pub(crate) fn unregister(&mut self) {
        if let Some(alarm) = &mut self.alarm {
            alarm.unregister();
        }
    }

    /// Sets the alarm to wake the task of `cx` at `at` (or earlier, if it is armed for an
    /// earlier instant): `Ready` once it has fired.
    #[inline]
    pub(crate) fn poll_alarm(&mut self, at: Instant, cx: &mut Context<'_>) -> Poll<()> {
        if !self.armed.is_some_and(|armed| armed <= at) {
            self.arm(at);
        }
        match &mut self.alarm {
            Some(alarm) => alarm.poll_fired(cx),
            None => Poll::Pending,
        }
    }
}

/// `d` in nanoseconds, at most `u64::MAX` (584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
