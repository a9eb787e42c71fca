//! The code every adapter shares as declarations: its structs and trait implementations
//! ([`adapter!`]), its accessors, and the builders of `throttle` and `debounce`. The behaviour
//! they share lives in [`engine`](crate::engine).

/// The accessors every adapter has: `get_ref`, `get_mut`, `get_pin_mut` and `into_inner`.
/// `$dropped` says what `into_inner` drops.
macro_rules! inner_accessors {
    ($dropped:literal) => {
        /// A reference to the inner stream.
        pub fn get_ref(&self) -> &S {
            &self.stream
        }

        /// A mutable reference to the inner stream.
        ///
        /// Items taken from it directly bypass the adapter.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.stream
        }

        /// A pinned mutable reference to the inner stream.
        ///
        /// Items taken from it directly bypass the adapter.
        pub fn get_pin_mut(self: ::std::pin::Pin<&mut Self>) -> ::std::pin::Pin<&mut S> {
            self.project().stream
        }

        #[doc = concat!("The inner stream. ", $dropped)]
        pub fn into_inner(self) -> S {
            self.stream
        }
    };
}
pub(crate) use inner_accessors;

/// Defines an adapter pair: the plain `$Plain` over any stream, the `$Try` over a stream of
/// `Result`s (errors pass through at once), both driven by the machine `$State` on an
/// [`Engine`](crate::engine::Engine), with everything they have in common: the structs,
/// `Stream`, `FusedStream`, `Debug`, the accessors and `with_clock`. `output |T| Out` names the machine's output for
/// an item type `T`; `hook X: Trait = Default` is the adapter's third type parameter (a batch's
/// weigher, a throttle's or debounce's drop hook), held by the machine.
macro_rules! adapter {
    (
        $(#[$plain_doc:meta])*
        plain $Plain:ident,
        $(#[$try_doc:meta])*
        try $Try:ident,
        state $State:ident,
        output $Output:ident,
        hook $X:ident: $Hook:ident = $Default:ty,
        into_inner_drops $dropped:literal,
    ) => {
        $(#[$plain_doc])*
        #[must_use = "streams do nothing unless polled"]
        #[pin_project::pin_project]
        pub struct $Plain<
            S: futures_core::Stream,
            C: crate::Clock = crate::SystemClock,
            $X: crate::$Hook<S::Item> = $Default,
        > {
            #[pin]
            stream: S,
            state: $State<S::Item, $X>,
            engine: crate::engine::Engine<C, $Output<S::Item>>,
        }

        $(#[$try_doc])*
        #[must_use = "streams do nothing unless polled"]
        #[pin_project::pin_project]
        pub struct $Try<
            S: futures_core::TryStream,
            C: crate::Clock = crate::SystemClock,
            $X: crate::$Hook<S::Ok> = $Default,
        > {
            #[pin]
            stream: S,
            state: $State<S::Ok, $X>,
            engine: crate::engine::Engine<C, Result<$Output<S::Ok>, S::Error>>,
        }

        crate::macros::adapter!(@common $Plain, futures_core::Stream, Item, $X, $Hook, $dropped);
        crate::macros::adapter!(@common $Try, futures_core::TryStream, Ok, $X, $Hook, $dropped);

        impl<S, C, $X> futures_core::Stream for $Plain<S, C, $X>
        where
            S: futures_core::Stream,
            C: crate::Clock,
            $X: crate::$Hook<S::Item>,
        {
            type Item = $Output<S::Item>;

            fn poll_next(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Option<Self::Item>> {
                let this = self.project();
                this.engine.poll(this.stream, this.state, cx, Ok, |out| out)
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                self.engine.size_hint(&self.state, self.stream.size_hint())
            }
        }

        impl<S, T, E, C, $X> futures_core::Stream for $Try<S, C, $X>
        where
            S: futures_core::TryStream<Ok = T, Error = E>
                + futures_core::Stream<Item = Result<T, E>>,
            C: crate::Clock,
            $X: crate::$Hook<T>,
        {
            type Item = Result<$Output<T>, E>;

            fn poll_next(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Option<Self::Item>> {
                let this = self.project();
                this.engine
                    .poll(this.stream, this.state, cx, |item| item.map_err(Err), Ok)
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                self.engine.size_hint(&self.state, self.stream.size_hint())
            }
        }

        impl<S, C, $X> futures_core::stream::FusedStream for $Plain<S, C, $X>
        where
            S: futures_core::Stream,
            C: crate::Clock,
            $X: crate::$Hook<S::Item>,
        {
            fn is_terminated(&self) -> bool {
                self.engine.is_terminated(&self.state)
            }
        }

        impl<S, T, E, C, $X> futures_core::stream::FusedStream for $Try<S, C, $X>
        where
            S: futures_core::TryStream<Ok = T, Error = E>
                + futures_core::Stream<Item = Result<T, E>>,
            C: crate::Clock,
            $X: crate::$Hook<T>,
        {
            fn is_terminated(&self) -> bool {
                self.engine.is_terminated(&self.state)
            }
        }
    };

    (@common $Name:ident, $Bound:path, $Assoc:ident, $X:ident, $Hook:ident, $dropped:literal) => {
        impl<S: $Bound, C: crate::Clock, $X: crate::$Hook<S::$Assoc>> $Name<S, C, $X> {
            crate::macros::inner_accessors!($dropped);

            /// Replaces the clock, keeping every setting.
            ///
            /// Meant for use before the first poll. If called later, pending items are kept,
            /// and every running deadline keeps the time it had left on the old clock: one
            /// already reached acts at the next poll.
            pub fn with_clock<C2: crate::Clock>(self, clock: C2) -> $Name<S, C2, $X> {
                let mut state = self.state;
                crate::machine::Machine::rebase(
                    &mut state,
                    crate::Clock::now(self.engine.clock()),
                    crate::Clock::now(&clock),
                );
                $Name {
                    stream: self.stream,
                    state,
                    engine: self.engine.with_clock(clock),
                }
            }
        }

        impl<S, C, $X> ::std::fmt::Debug for $Name<S, C, $X>
        where
            S: $Bound + ::std::fmt::Debug,
            S::$Assoc: ::std::fmt::Debug,
            C: crate::Clock + ::std::fmt::Debug,
            $X: crate::$Hook<S::$Assoc>,
        {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let mut out = f.debug_struct(stringify!($Name));
                out.field("stream", &self.stream);
                crate::machine::Machine::debug_fields(&self.state, &mut out);
                out.field("clock", self.engine.clock());
                out.finish()
            }
        }
    };
}
pub(crate) use adapter;

/// The constructor and the builders that `throttle` and `debounce` share: `new`, `edge` and
/// `on_drop`, with the documentation given for each adapter.
macro_rules! edge_and_drop_builders {
    (
        $Name:ident, $Bound:ident, $Assoc:ident,
        edge: $(#[$edge_doc:meta])*
        on_drop: $(#[$drop_doc:meta])*
    ) => {
        impl<S: $Bound> $Name<S> {
            pub(crate) fn new(stream: S, duration: ::std::time::Duration) -> Self {
                $Name {
                    stream,
                    state: State::new(duration),
                    engine: crate::engine::Engine::new(crate::SystemClock),
                }
            }
        }

        impl<S: $Bound, C: crate::Clock, D: crate::DropHook<S::$Assoc>> $Name<S, C, D> {
            $(#[$edge_doc])*
            pub fn edge(mut self, edge: crate::Edge) -> Self {
                self.state.edge = edge;
                self
            }
        }

        impl<S: $Bound, C: crate::Clock> $Name<S, C> {
            $(#[$drop_doc])*
            pub fn on_drop<F>(self, hook: F) -> $Name<S, C, crate::OnDrop<F>>
            where
                F: FnMut(S::$Assoc),
            {
                $Name {
                    stream: self.stream,
                    state: self.state.with_hook(crate::OnDrop(hook)),
                    engine: self.engine,
                }
            }
        }
    };
}
pub(crate) use edge_and_drop_builders;
