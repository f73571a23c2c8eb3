//! Generations of a query, so that a stale async result cannot be applied.
//!
//! Whoever asks for a listing takes the next `Generation` and keeps it as the
//! current one; the worker stamps every result with the generation of the
//! request that produced it. The value inside a `Generational` can only be
//! reached by naming the generation that is current now, so an answer to an
//! older request is dropped by construction, not by a check someone must
//! remember.

/// The number of one request of a kind; later requests have larger numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Generation(u64);

impl Generation {
    /// The generation after this one.
    pub fn next(self) -> Generation {
        Generation(self.0.wrapping_add(1))
    }
}

/// A result of the request of one generation.
#[derive(Debug)]
pub struct Generational<T> {
    generation: Generation,
    value: T,
}

impl<T> Generational<T> {
    /// Stamps `value` with the generation of the request it answers.
    pub fn new(generation: Generation, value: T) -> Generational<T> {
        Generational { generation, value }
    }

    /// The value, when it answers the `current` request; `None` when stale.
    pub fn as_current(&self, current: Generation) -> Option<&T> {
        (self.generation == current).then_some(&self.value)
    }

    /// Takes the value out, when it answers the `current` request.
    pub fn into_current(self, current: Generation) -> Option<T> {
        (self.generation == current).then_some(self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_current_generation_yields_its_value() {
        let first = Generation::default().next();
        let second = first.next();
        let stale = Generational::new(first, "old");
        assert_eq!(stale.as_current(second), None);
        assert_eq!(stale.as_current(first), Some(&"old"));
        assert_eq!(Generational::new(second, 7).into_current(second), Some(7));
        assert_eq!(Generational::new(first, 7).into_current(second), None);
    }
}
