//! rust-hdl blocks of the replimesh fabric and the Verilog generator.
//!
//! Layout: `common/` holds generic blocks (LUT RAM, FIFO, arbiter, glue),
//! `router/` the router's parts, `mesh.rs` the W×H composition, `router_alone.rs` one router as a top
//! (for area and Fmax reports) and
//! `verilog.rs` the generator that writes, merges and lints the Verilog.
#![forbid(unsafe_code)]

pub mod card;
pub mod common;
pub mod endpoint;
pub mod mesh;
pub mod router;
pub mod router_alone;
pub mod verilog;

pub use verilog::{
    generate_card_verilog, generate_mesh_verilog, generate_router_verilog, FabricParams,
};
