//! A slot for the answer to one request, owned by the view that asked: pending while
//! the worker works, then ready or failed. The previous value stays visible while a
//! refresh is in flight, so a view never flickers to empty.

/// Identifies one request or long job the explorer asked of the worker; the explorer
/// chooses it, so an answer can be matched to what asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JobId(pub u64);

/// The state of one requested value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Requested<T> {
    /// Nothing asked yet.
    #[default]
    Idle,
    /// Asked; `previous` is what was shown before.
    Pending {
        /// The last value, still shown.
        previous: Option<T>,
    },
    /// The answer.
    Ready(T),
    /// The request failed; `error` says what to do.
    Failed {
        /// What failed and what to do.
        error: String,
        /// The last value, still shown.
        previous: Option<T>,
    },
}

impl<T> Requested<T> {
    /// Marks the slot as waiting, keeping the current value as `previous`.
    pub fn start(&mut self) {
        let previous = self.take_latest();
        *self = Requested::Pending { previous };
    }

    /// Stores the answer.
    pub fn succeed(&mut self, value: T) {
        *self = Requested::Ready(value);
    }

    /// Stores the failure, keeping the last value visible.
    pub fn fail(&mut self, error: impl Into<String>) {
        let previous = self.take_latest();
        *self = Requested::Failed {
            error: error.into(),
            previous,
        };
    }

    /// The newest value there is, answered or previous.
    pub fn latest(&self) -> Option<&T> {
        match self {
            Requested::Idle => None,
            Requested::Ready(value) => Some(value),
            Requested::Pending { previous } | Requested::Failed { previous, .. } => {
                previous.as_ref()
            }
        }
    }

    /// The newest value, mutable (to fold pushed changes into it).
    pub fn latest_mut(&mut self) -> Option<&mut T> {
        match self {
            Requested::Idle => None,
            Requested::Ready(value) => Some(value),
            Requested::Pending { previous } | Requested::Failed { previous, .. } => {
                previous.as_mut()
            }
        }
    }

    /// Whether an answer is awaited.
    pub fn is_pending(&self) -> bool {
        matches!(self, Requested::Pending { .. })
    }

    /// The error of the last attempt, if it failed.
    pub fn error(&self) -> Option<&str> {
        match self {
            Requested::Failed { error, .. } => Some(error),
            _ => None,
        }
    }

    fn take_latest(&mut self) -> Option<T> {
        match std::mem::take(self) {
            Requested::Idle => None,
            Requested::Ready(value) => Some(value),
            Requested::Pending { previous } | Requested::Failed { previous, .. } => previous,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_value_stays_visible_through_refresh_and_failure() {
        let mut slot = Requested::Idle;
        assert_eq!(slot.latest(), None);
        slot.start();
        assert!(slot.is_pending());
        slot.succeed(1);
        assert_eq!(slot.latest(), Some(&1));
        slot.start();
        assert_eq!(slot.latest(), Some(&1));
        slot.fail("hub down");
        assert_eq!(slot.latest(), Some(&1));
        assert_eq!(slot.error(), Some("hub down"));
        slot.start();
        assert_eq!(slot.error(), None);
        assert_eq!(slot.latest(), Some(&1));
    }
}
