//! The CLI's subcommands, one module each.

pub mod dream;
pub mod features;
pub mod generate;
pub mod inspect;
pub mod render;
pub mod weights;
pub mod weights_fetch;
