//! Reliable streams on the card's generated Verilog, under injected faults,
//! checked by a book of their own: the harness the fabric tests share
//! ([`streams`]) and the fault campaign of `meshctl bench faults`
//! ([`campaign`]).

pub mod campaign;
pub mod fault_view;
pub mod streams;
