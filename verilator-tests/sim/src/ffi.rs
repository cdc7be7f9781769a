//! The raw interface to the compiled Verilator models. The only module of
//! this crate with `unsafe`.
#![allow(unsafe_code)]
#![deny(
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

use core::ffi::c_void;
use std::ffi::CString;

/// Mesh-wide inputs and outputs of one cycle; twin of `CycleIo` in
/// `csrc/shim_common.h`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct CycleIo {
    pub reset: u8,
    pub cfg_we: u8,
    pub cfg_re: u8,
    pub cfg_error: u8,
    pub cfg_node: u8,
    pub pad0: [u8; 1],
    pub cfg_addr: u16,
    pub cfg_wdata: u32,
    pub cfg_rdata: u32,
}

/// One node's local port; twin of `PortIo` in `csrc/shim_common.h`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct PortIo {
    pub inj_data: u64,
    pub ej_data: u64,
    pub inj_valid: u8,
    pub inj_last: u8,
    pub ej_credit: u8,
    pub inj_credit: u8,
    pub ej_valid: u8,
    pub ej_last: u8,
    pub ej_err: u8,
    pub kill: u8,
    pub cut: u8,
    pub corrupt: u8,
    pub pad: [u8; 4],
}

const _: () = assert!(core::mem::size_of::<CycleIo>() == 16);
const _: () = assert!(core::mem::size_of::<PortIo>() == 32);

include!(concat!(env!("OUT_DIR"), "/ffi_decls.rs"));

type NewFn = unsafe extern "C" fn(*const core::ffi::c_char) -> *mut c_void;
type FreeFn = unsafe extern "C" fn(*mut c_void);
type CycleFn = unsafe extern "C" fn(*mut c_void, *mut CycleIo, *mut PortIo) -> i32;

/// A mesh variant compiled into this binary.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Flit width.
    pub flit_bits: u32,
    /// Input FIFO depth the Verilog was generated with.
    pub fifo_depth: usize,
    new: NewFn,
    free: FreeFn,
    cycle: CycleFn,
}

/// Every variant `build.rs` compiled.
pub static VARIANTS: &[Variant] = include!(concat!(env!("OUT_DIR"), "/variants.rs"));

/// An owned Verilator model instance.
pub struct Model {
    handle: *mut c_void,
    variant: Variant,
}

impl Model {
    /// Instantiates `variant`; with `trace`, dumps a VCD there (needs the
    /// `trace` feature). `None` if the C++ side failed.
    pub fn new(variant: Variant, trace: Option<&std::path::Path>) -> Option<Model> {
        let path = trace.and_then(|p| CString::new(p.to_string_lossy().as_bytes()).ok());
        let ptr = path.as_ref().map_or(core::ptr::null(), |p| p.as_ptr());
        // SAFETY: `new` is the variant's shim constructor; it takes a NUL-terminated
        // path or null, copies what it needs before returning, and returns null on error.
        let handle = unsafe { (variant.new)(ptr) };
        (!handle.is_null()).then_some(Model { handle, variant })
    }

    /// Applies `io` and `ports` (one per node, dense index order), clocks one
    /// rising edge, and writes the outputs back. `false` if the C++ side threw.
    pub fn cycle(&mut self, io: &mut CycleIo, ports: &mut [PortIo]) -> bool {
        assert_eq!(
            ports.len(),
            (self.variant.width * self.variant.height) as usize
        );
        // SAFETY: `handle` is live (owned by self, freed only in Drop); `io` and
        // `ports` are valid for the call and hold exactly the node count the shim
        // indexes (asserted above); the shim keeps no pointer past the call.
        let rc = unsafe { (self.variant.cycle)(self.handle, io, ports.as_mut_ptr()) };
        rc == 0
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        // SAFETY: `handle` came from this variant's `new` and is freed exactly once.
        unsafe { (self.variant.free)(self.handle) }
    }
}

// The model is a plain C++ object touched only through `&mut self`.
// SAFETY: the shim makes the model's own Verilator context the calling
// thread's on every call (the only thread-local state Verilator reads), so
// moving the handle between threads is sound.
unsafe impl Send for Model {}

/// Card-wide inputs and outputs of one cycle; twin of `CardIo` in
/// `csrc/card_common.h`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CardIo {
    pub reset: u8,
    pub bus_we: u8,
    pub bus_re: u8,
    pub bus_error: u8,
    pub bus_addr: u32,
    pub bus_wdata: u32,
    pub bus_rdata: u32,
    pub irq: [u8; 256],
    pub kill: [u8; 256],
    pub cut: [u8; 256],
    pub corrupt: [u8; 256],
}

impl Default for CardIo {
    fn default() -> Self {
        Self {
            reset: 0,
            bus_we: 0,
            bus_re: 0,
            bus_error: 0,
            bus_addr: 0,
            bus_wdata: 0,
            bus_rdata: 0,
            irq: [0; 256],
            kill: [0; 256],
            cut: [0; 256],
            corrupt: [0; 256],
        }
    }
}

/// One DMA port; twin of `DmaIo` in `csrc/card_common.h`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct DmaIo {
    pub addr: u64,
    pub wdata: u64,
    pub rsp_data: u64,
    pub valid: u8,
    pub write: u8,
    pub wstrb: u8,
    pub rsp_valid: u8,
    pub rsp_err: u8,
    pub pad: [u8; 3],
}

const _: () = assert!(core::mem::size_of::<CardIo>() == 16 + 4 * 256);
const _: () = assert!(core::mem::size_of::<DmaIo>() == 32);

include!(concat!(env!("OUT_DIR"), "/card_ffi_decls.rs"));

type CardCycleFn = unsafe extern "C" fn(*mut c_void, *mut CardIo, *mut DmaIo) -> i32;

/// A card model compiled into this binary.
#[derive(Debug, Clone, Copy)]
pub struct CardVariant {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    new: NewFn,
    free: FreeFn,
    cycle: CardCycleFn,
}

/// Every card model `build.rs` compiled.
pub static CARD_VARIANTS: &[CardVariant] = include!(concat!(env!("OUT_DIR"), "/card_variants.rs"));

/// An owned card model instance.
pub struct CardModel {
    handle: *mut c_void,
    variant: CardVariant,
}

impl CardModel {
    /// Instantiates `variant`; `None` if the C++ side failed.
    pub fn new(variant: CardVariant, trace: Option<&std::path::Path>) -> Option<CardModel> {
        let path = trace.and_then(|p| CString::new(p.to_string_lossy().as_bytes()).ok());
        let ptr = path.as_ref().map_or(core::ptr::null(), |p| p.as_ptr());
        // SAFETY: `new` is the variant's shim constructor; it takes a NUL-terminated
        // path or null, copies what it needs before returning, and returns null on error.
        let handle = unsafe { (variant.new)(ptr) };
        (!handle.is_null()).then_some(CardModel { handle, variant })
    }

    /// Clocks one edge with `io` and `dma` (two ports per node: TX, RX).
    /// `false` if the C++ side threw.
    pub fn cycle(&mut self, io: &mut CardIo, dma: &mut [DmaIo]) -> bool {
        let nodes = (self.variant.width * self.variant.height) as usize;
        assert_eq!(dma.len(), 2 * nodes);
        assert!(nodes <= io.irq.len());
        // SAFETY: `handle` is live (owned by self, freed only in Drop); `io` and
        // `dma` are valid for the call; `dma` holds the two ports per node the
        // shim indexes and `io.irq` one byte per node (asserted above); the shim
        // keeps no pointer past the call.
        let rc = unsafe { (self.variant.cycle)(self.handle, io, dma.as_mut_ptr()) };
        rc == 0
    }
}

impl Drop for CardModel {
    fn drop(&mut self) {
        // SAFETY: `handle` came from this variant's `new` and is freed exactly once.
        unsafe { (self.variant.free)(self.handle) }
    }
}

// SAFETY: the model is a plain C++ object touched only through `&mut self`;
// the shim makes the model's own Verilator context the calling thread's on
// every call, so moving the handle between threads is sound.
unsafe impl Send for CardModel {}
