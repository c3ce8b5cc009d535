//! How a call ended: the classification the expansion makes of the return value.

use std::fmt;

use crate::metrics::ERROR_TYPE_OTHER;

/// How a call ended, as the expansion classified it.
#[derive(Debug)]
pub enum Outcome<'a> {
    /// A success.
    Ok,
    /// An error.
    Error(ErrorInfo<'a>),
}

/// An error: its type (for `error.type`, `exception.type`) and its message.
pub struct ErrorInfo<'a> {
    pub(super) kind: &'static str,
    message: Message<'a>,
}

enum Message<'a> {
    None,
    Display(&'a dyn fmt::Display),
    Debug(&'a dyn fmt::Debug),
}

impl fmt::Debug for ErrorInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorInfo")
            .field("type", &self.kind)
            .field("message", &self.message())
            .finish()
    }
}

impl ErrorInfo<'_> {
    pub(super) fn message(&self) -> Option<String> {
        match self.message {
            Message::None => None,
            Message::Display(d) => Some(d.to_string()),
            Message::Debug(d) => Some(format!("{d:?}")),
        }
    }
}

impl<'a> Outcome<'a> {
    /// An error described by its `Display`.
    pub fn display<E: fmt::Display>(error: &'a E) -> Outcome<'a> {
        Outcome::Error(ErrorInfo {
            kind: std::any::type_name::<E>(),
            message: Message::Display(error),
        })
    }

    /// An error described by its `Debug`.
    pub fn debug<E: fmt::Debug>(error: &'a E) -> Outcome<'a> {
        Outcome::Error(ErrorInfo {
            kind: std::any::type_name::<E>(),
            message: Message::Debug(error),
        })
    }

    /// An error known by its type only.
    pub fn opaque<E>(_error: &'a E) -> Outcome<'a> {
        Outcome::Error(ErrorInfo {
            kind: std::any::type_name::<E>(),
            message: Message::None,
        })
    }

    /// An error with nothing to name it (`error.type` = `_OTHER`).
    pub fn other() -> Outcome<'a> {
        Outcome::Error(ErrorInfo {
            kind: ERROR_TYPE_OTHER,
            message: Message::None,
        })
    }

    /// This outcome if an error, else [`Outcome::other`]: a classifier said "error".
    pub fn or_other(self) -> Outcome<'a> {
        match self {
            Outcome::Ok => Outcome::other(),
            error => error,
        }
    }
}

/// Implemented by `Result` only: what `#[traced(err)]` needs.
#[diagnostic::on_unimplemented(
    message = "`err` needs a function that returns `Result<T, E>`, but it returns `{Self}`",
    label = "`err` is given here",
    note = "remove `err`, or return a `Result`"
)]
pub trait IsResult {
    /// The `Ok` type.
    type Ok;
    /// The `Err` type.
    type Err;
    /// The value as a `Result` of references.
    fn as_result(&self) -> Result<&Self::Ok, &Self::Err>;
}

impl<T, E> IsResult for Result<T, E> {
    type Ok = T;
    type Err = E;
    fn as_result(&self) -> Result<&T, &E> {
        self.as_ref()
    }
}

/// The return value as a `Result` of references.
pub fn as_result<R: IsResult>(ret: &R) -> Result<&R::Ok, &R::Err> {
    ret.as_result()
}

/// Classifies any return value (autoref specialisation, resolved where the type is
/// known): `Err` with `Display`, else with `Debug`, else by type; anything else `Ok`.
/// Called as `(&&&&Probe(&ret)).__telemetry_outcome()` with the four traits in scope.
#[derive(Debug)]
pub struct Probe<'a, R>(pub &'a R);

/// See [`Probe`].
pub trait ProbeDisplay<'a> {
    /// The outcome.
    fn __telemetry_outcome(&self) -> Outcome<'a>;
}
/// See [`Probe`].
pub trait ProbeDebug<'a> {
    /// The outcome.
    fn __telemetry_outcome(&self) -> Outcome<'a>;
}
/// See [`Probe`].
pub trait ProbeResult<'a> {
    /// The outcome.
    fn __telemetry_outcome(&self) -> Outcome<'a>;
}
/// See [`Probe`].
pub trait ProbeAny<'a> {
    /// The outcome.
    fn __telemetry_outcome(&self) -> Outcome<'a>;
}

impl<'a, T, E: fmt::Display> ProbeDisplay<'a> for &&&Probe<'a, Result<T, E>> {
    fn __telemetry_outcome(&self) -> Outcome<'a> {
        match self.0 {
            Ok(_) => Outcome::Ok,
            Err(e) => Outcome::display(e),
        }
    }
}

impl<'a, T, E: fmt::Debug> ProbeDebug<'a> for &&Probe<'a, Result<T, E>> {
    fn __telemetry_outcome(&self) -> Outcome<'a> {
        match self.0 {
            Ok(_) => Outcome::Ok,
            Err(e) => Outcome::debug(e),
        }
    }
}

impl<'a, T, E> ProbeResult<'a> for &Probe<'a, Result<T, E>> {
    fn __telemetry_outcome(&self) -> Outcome<'a> {
        match self.0 {
            Ok(_) => Outcome::Ok,
            Err(e) => Outcome::opaque(e),
        }
    }
}

impl<'a, R> ProbeAny<'a> for Probe<'a, R> {
    fn __telemetry_outcome(&self) -> Outcome<'a> {
        Outcome::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::needless_borrow)] // the borrows are the autoref specialisation
    fn outcomes_are_classified_by_probe() {
        fn kind(o: Outcome<'_>) -> Option<(&'static str, Option<String>)> {
            match o {
                Outcome::Ok => None,
                Outcome::Error(e) => Some((e.kind, e.message())),
            }
        }
        #[derive(Debug)]
        struct OnlyDebug;
        struct Opaque;
        let r: Result<u8, std::io::Error> = Err(std::io::Error::other("boom"));
        assert_eq!(
            kind((&&&&Probe(&r)).__telemetry_outcome()),
            Some(("std::io::error::Error", Some("boom".into())))
        );
        let r: Result<u8, OnlyDebug> = Err(OnlyDebug);
        let (k, m) = kind((&&&&Probe(&r)).__telemetry_outcome()).unwrap();
        assert!(k.ends_with("OnlyDebug") && m.as_deref() == Some("OnlyDebug"));
        let r: Result<u8, Opaque> = Err(Opaque);
        let (k, m) = kind((&&&&Probe(&r)).__telemetry_outcome()).unwrap();
        assert!(k.ends_with("Opaque") && m.is_none());
        let r: Result<u8, Opaque> = Ok(1);
        assert!(kind((&&&&Probe(&r)).__telemetry_outcome()).is_none());
        assert!(kind((&&&&Probe(&7_u32)).__telemetry_outcome()).is_none());
    }
}
