//! The bundled example jobs behind `strom example …`, usable from Rust too.

pub mod duration;
pub mod sensors;
