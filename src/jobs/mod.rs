//! The bundled example jobs behind `strom example …`, usable from Rust too.

pub mod duration;
pub mod fast_csv;
pub mod fraud;
pub mod rising;
pub mod sensors;
