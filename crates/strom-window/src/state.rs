//! Checkpointing helpers shared by the window operators.
//!
//! The per-window and per-key state of a process window function
//! ([`WindowContext::window_state`](crate::WindowContext::window_state) and
//! [`global_state`](crate::WindowContext::global_state)) is typed by the function, not by
//! the operator, so the operator keeps it in a [`StateSlot`]: either a live value that knows
//! how to encode itself, or the bytes it was restored from, decoded on first use with the
//! type the function asks for.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use strom_core::checkpoint::{decode, encode, state_error};
use strom_core::{Result, StromError};

/// The state name under which a process window function's typed state is reported in
/// errors.
const FUNCTION_STATE: &str = "window-function-state";

/// A typed value that can encode itself.
trait ErasedState: Send {
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn encode(&self) -> std::result::Result<Vec<u8>, String>;
}

impl<S: Serialize + Send + 'static> ErasedState for S {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn encode(&self) -> std::result::Result<Vec<u8>, String> {
        encode(self)
    }
}

enum Slot {
    Live(Box<dyn ErasedState>),
    Encoded(Vec<u8>),
}

/// Typed state of a process window function: empty, a live value, or restored bytes.
#[derive(Default)]
pub(crate) struct StateSlot(Option<Slot>);

impl StateSlot {
    /// A slot holding the encoded value `bytes` (decoded on first use).
    pub(crate) fn restored(bytes: Option<Vec<u8>>) -> Self {
        StateSlot(bytes.map(Slot::Encoded))
    }

    /// The value as `S`, created with `Default` on first use (or decoded from restored
    /// bytes).
    pub(crate) fn get<S>(&mut self) -> Result<&mut S>
    where
        S: Default + Serialize + DeserializeOwned + Send + 'static,
    {
        if let Some(Slot::Encoded(bytes)) = &self.0 {
            let value: S = decode(bytes).map_err(|m| {
                state_error(
                    "",
                    FUNCTION_STATE,
                    format!(
                        "cannot read {} from the checkpoint (incompatible type change?): {m}",
                        std::any::type_name::<S>()
                    ),
                )
            })?;
            self.0 = Some(Slot::Live(Box::new(value)));
        }
        let slot = self
            .0
            .get_or_insert_with(|| Slot::Live(Box::new(S::default())));
        let Slot::Live(b) = slot else {
            return Err(StromError::Internal("window state slot not live".into()));
        };
        b.as_any_mut().downcast_mut::<S>().ok_or_else(|| {
            StromError::User(
                format!(
                    "window state was used with two types; now as {}",
                    std::any::type_name::<S>()
                )
                .into(),
            )
        })
    }

    /// The encoded value (encoded now: the value is small and typed only here), `None`
    /// when empty.
    pub(crate) fn encoded(&self) -> Result<Option<Vec<u8>>> {
        match &self.0 {
            None => Ok(None),
            Some(Slot::Encoded(b)) => Ok(Some(b.clone())),
            Some(Slot::Live(v)) => v
                .encode()
                .map(Some)
                .map_err(|m| state_error("", FUNCTION_STATE, m)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn slot_round_trips_and_checks_types() {
        let mut s = StateSlot::default();
        assert_eq!(s.encoded().unwrap(), None);
        *s.get::<u32>().unwrap() += 5;
        let bytes = s.encoded().unwrap();
        assert!(bytes.is_some());
        let mut back = StateSlot::restored(bytes.clone());
        assert_eq!(
            back.encoded().unwrap(),
            bytes,
            "undecoded bytes pass through"
        );
        assert_eq!(*back.get::<u32>().unwrap(), 5);
        assert!(back.get::<String>().is_err(), "second type");
        let mut wrong = StateSlot::restored(bytes);
        let err = wrong.get::<Vec<String>>().unwrap_err().to_string();
        assert!(err.contains(FUNCTION_STATE), "{err}");
    }
}
