//! The CLI's subcommands, one module each.

pub mod features;
pub mod inspect;
pub mod weights_fetch;
