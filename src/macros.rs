//! The accessors every adapter has, written once. Everything else of an adapter is in its own
//! file; the behaviour the adapters share lives in [`engine`](crate::engine).

/// The accessors every adapter has: `get_ref`, `get_mut`, `get_pin_mut` and `into_inner`.
macro_rules! inner_accessors {
    () => {
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

        /// The inner stream. What the adapter holds is dropped with it: pending items, and an
        /// output waiting to be yielded at the next poll.
        pub fn into_inner(self) -> S {
            self.stream
        }
    };
}
pub(crate) use inner_accessors;
