//! The CLI's subcommands, one module each.

pub mod inspect;
