//! The CLI's subcommands, one module each.

pub mod generate;
pub mod inspect;
pub mod npy;
pub mod weights;
