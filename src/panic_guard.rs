//! Running code whose panics are errors to report, not crashes: the foreign decoders, model
//! code on the render threads, GPU set-up. A panic inside [`catch`] comes back as its message;
//! a process-wide panic hook asks [`is_guarded`] so it stays quiet about panics that are handled
//! (the CLI's hook says "internal error" only for a panic nothing catches).

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, UnwindSafe};

thread_local! {
    /// How many [`catch`] calls the thread is inside.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f`; a panic in it becomes `Err` with the panic's message.
pub fn catch<R>(f: impl FnOnce() -> R + UnwindSafe) -> Result<R, String> {
    DEPTH.with(|depth| depth.set(depth.get() + 1));
    let outcome = catch_unwind(f);
    DEPTH.with(|depth| depth.set(depth.get() - 1));
    outcome.map_err(|panic| message(panic.as_ref()))
}

/// Whether the calling thread runs inside [`catch`], i.e. a panic here is handled.
pub fn is_guarded() -> bool {
    DEPTH.with(|depth| depth.get() > 0)
}

/// The text of a panic's payload.
pub fn message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_its_message_and_the_guard_is_known_only_inside() {
        assert!(!is_guarded());
        assert_eq!(catch(is_guarded), Ok(true));
        let err = catch(|| -> u8 { panic!("bad header {}", 7) }).unwrap_err();
        assert_eq!(err, "bad header 7");
        assert!(!is_guarded(), "the guard ends with the call, panic or not");
        assert_eq!(catch(|| catch(|| 5)), Ok(Ok(5)));
    }
}
