//! The CLI's subcommands, one module each.

pub mod dream;
pub mod inspect;
pub mod weights_fetch;
