//! First-word-fall-through flit FIFO: the head flit is visible combinationally,
//! so a router can route and switch it in the cycle after it arrives.

use super::dist_ram::DistRam;
use rust_hdl::prelude::*;

/// A FIFO of `depth` flits (`W` data bits plus the `last` sideband).
#[derive(LogicBlock)]
pub struct FlitFifo<const W: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: empties the FIFO.
    pub reset: Signal<In, Bit>,
    /// Write strobe.
    pub push: Signal<In, Bit>,
    /// Flit written by `push`.
    pub push_data: Signal<In, Bits<W>>,
    /// `last` sideband written by `push`.
    pub push_last: Signal<In, Bit>,
    /// Drop the head flit at the clock edge (ignored when empty).
    pub pop: Signal<In, Bit>,
    /// Head flit.
    pub head_data: Signal<Out, Bits<W>>,
    /// Head flit's `last` sideband.
    pub head_last: Signal<Out, Bit>,
    /// No flit held.
    pub empty: Signal<Out, Bit>,
    /// Pulses when a push finds the FIFO full; the flit is discarded. Credit
    /// flow control makes this impossible unless a neighbour misbehaves.
    pub overflow: Signal<Out, Bit>,
    data_ram: DistRam<Bits<W>>,
    last_ram: DistRam<Bit>,
    wr_ptr: DFF<Bits<8>>,
    rd_ptr: DFF<Bits<8>>,
    depth: Constant<Bits<8>>,
    one: Constant<Bits<8>>,
    zero: Constant<Bits<8>>,
}

impl<const W: usize> FlitFifo<W> {
    /// A FIFO holding `depth` flits (power of two, 2..=64).
    pub fn new(depth: usize) -> Self {
        assert!(depth.is_power_of_two() && (2..=64).contains(&depth));
        Self {
            clock: Default::default(),
            reset: Default::default(),
            push: Default::default(),
            push_data: Default::default(),
            push_last: Default::default(),
            pop: Default::default(),
            head_data: Default::default(),
            head_last: Default::default(),
            empty: Default::default(),
            overflow: Default::default(),
            data_ram: DistRam::new(depth),
            last_ram: DistRam::new(depth),
            wr_ptr: Default::default(),
            rd_ptr: Default::default(),
            depth: Constant::new(depth.to_bits()),
            one: Constant::new(1u64.to_bits()),
            zero: Constant::new(0u64.to_bits()),
        }
    }
}

impl<const W: usize> Logic for FlitFifo<W> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, wr_ptr, rd_ptr);
        self.data_ram.clock.next = self.clock.val();
        self.last_ram.clock.next = self.clock.val();
        self.data_ram.write_address.next = self.wr_ptr.q.val();
        self.last_ram.write_address.next = self.wr_ptr.q.val();
        self.data_ram.write_data.next = self.push_data.val();
        self.last_ram.write_data.next = self.push_last.val();
        self.data_ram.read_address.next = self.rd_ptr.q.val();
        self.last_ram.read_address.next = self.rd_ptr.q.val();
        self.head_data.next = self.data_ram.read_data.val();
        self.head_last.next = self.last_ram.read_data.val();
        self.empty.next = self.wr_ptr.q.val() == self.rd_ptr.q.val();
        self.overflow.next = false;
        self.data_ram.write_enable.next = false;
        self.last_ram.write_enable.next = false;
        if self.push.val() {
            if (self.wr_ptr.q.val() - self.rd_ptr.q.val()) == self.depth.val() {
                self.overflow.next = true;
            } else {
                self.data_ram.write_enable.next = true;
                self.last_ram.write_enable.next = true;
                self.wr_ptr.d.next = self.wr_ptr.q.val() + self.one.val();
            }
        }
        if self.pop.val() && (self.wr_ptr.q.val() != self.rd_ptr.q.val()) {
            self.rd_ptr.d.next = self.rd_ptr.q.val() + self.one.val();
        }
        if self.reset.val() {
            self.wr_ptr.d.next = self.zero.val();
            self.rd_ptr.d.next = self.zero.val();
        }
    }
}

/// A [`FlitFifo`] whose flits carry two tags, each in its own LUT RAM at the
/// same slot: what the router's input computes about a head flit when it
/// arrives (look-ahead route and fan-out classification), read back with the
/// flit at the FIFO head. Two tags, so a tag that is never written (`B` in a
/// router without fan-out logic) is removed by synthesis as a whole.
#[derive(LogicBlock)]
pub struct TagFifo<const W: usize, const A: usize, const B: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: empties the FIFO.
    pub reset: Signal<In, Bit>,
    /// Write strobe.
    pub push: Signal<In, Bit>,
    /// Flit written by `push`.
    pub push_data: Signal<In, Bits<W>>,
    /// `last` sideband written by `push`.
    pub push_last: Signal<In, Bit>,
    /// First tag written by `push`.
    pub push_a: Signal<In, Bits<A>>,
    /// Second tag written by `push`.
    pub push_b: Signal<In, Bits<B>>,
    /// Write the second tag (tie low when it is not used).
    pub b_enable: Signal<In, Bit>,
    /// Drop the head flit at the clock edge (ignored when empty).
    pub pop: Signal<In, Bit>,
    /// Head flit.
    pub head_data: Signal<Out, Bits<W>>,
    /// Head flit's `last` sideband.
    pub head_last: Signal<Out, Bit>,
    /// Head flit's first tag.
    pub head_a: Signal<Out, Bits<A>>,
    /// Head flit's second tag.
    pub head_b: Signal<Out, Bits<B>>,
    /// No flit held.
    pub empty: Signal<Out, Bit>,
    /// Pulses when a push finds the FIFO full; the flit is discarded.
    pub overflow: Signal<Out, Bit>,
    data_ram: DistRam<Bits<W>>,
    last_ram: DistRam<Bit>,
    a_ram: DistRam<Bits<A>>,
    b_ram: DistRam<Bits<B>>,
    wr_ptr: DFF<Bits<8>>,
    rd_ptr: DFF<Bits<8>>,
    ptr_mask: Constant<Bits<8>>,
    depth: Constant<Bits<8>>,
    one: Constant<Bits<8>>,
    zero: Constant<Bits<8>>,
}

impl<const W: usize, const A: usize, const B: usize> TagFifo<W, A, B> {
    /// A FIFO holding `depth` flits (power of two, 2..=64).
    pub fn new(depth: usize) -> Self {
        assert!(depth.is_power_of_two() && (2..=64).contains(&depth));
        Self {
            clock: Default::default(),
            reset: Default::default(),
            push: Default::default(),
            push_data: Default::default(),
            push_last: Default::default(),
            push_a: Default::default(),
            push_b: Default::default(),
            b_enable: Default::default(),
            pop: Default::default(),
            head_data: Default::default(),
            head_last: Default::default(),
            head_a: Default::default(),
            head_b: Default::default(),
            empty: Default::default(),
            overflow: Default::default(),
            data_ram: DistRam::new(depth),
            last_ram: DistRam::new(depth),
            a_ram: DistRam::new(depth),
            b_ram: DistRam::new(depth),
            wr_ptr: Default::default(),
            rd_ptr: Default::default(),
            ptr_mask: Constant::new((2 * depth - 1).to_bits()),
            depth: Constant::new(depth.to_bits()),
            one: Constant::new(1u64.to_bits()),
            zero: Constant::new(0u64.to_bits()),
        }
    }
}

impl<const W: usize, const A: usize, const B: usize> Logic for TagFifo<W, A, B> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, wr_ptr, rd_ptr);
        self.data_ram.clock.next = self.clock.val();
        self.last_ram.clock.next = self.clock.val();
        self.a_ram.clock.next = self.clock.val();
        self.b_ram.clock.next = self.clock.val();
        self.data_ram.write_address.next = self.wr_ptr.q.val();
        self.last_ram.write_address.next = self.wr_ptr.q.val();
        self.a_ram.write_address.next = self.wr_ptr.q.val();
        self.b_ram.write_address.next = self.wr_ptr.q.val();
        self.data_ram.write_data.next = self.push_data.val();
        self.last_ram.write_data.next = self.push_last.val();
        self.a_ram.write_data.next = self.push_a.val();
        self.b_ram.write_data.next = self.push_b.val();
        self.data_ram.read_address.next = self.rd_ptr.q.val();
        self.last_ram.read_address.next = self.rd_ptr.q.val();
        self.a_ram.read_address.next = self.rd_ptr.q.val();
        self.b_ram.read_address.next = self.rd_ptr.q.val();
        self.head_data.next = self.data_ram.read_data.val();
        self.head_last.next = self.last_ram.read_data.val();
        self.head_a.next = self.a_ram.read_data.val();
        self.head_b.next = self.b_ram.read_data.val();
        // Pointers count modulo twice the depth: only their low
        // log2(depth) + 1 bits take part, so synthesis drops the rest and the
        // empty and full checks are a few LUTs instead of 8-bit carry chains
        // (`empty` starts the switch allocation path).
        self.empty.next =
            ((self.wr_ptr.q.val() ^ self.rd_ptr.q.val()) & self.ptr_mask.val()) == self.zero.val();
        self.overflow.next = false;
        self.data_ram.write_enable.next = false;
        self.last_ram.write_enable.next = false;
        self.a_ram.write_enable.next = false;
        self.b_ram.write_enable.next = false;
        if self.push.val() {
            if ((self.wr_ptr.q.val() - self.rd_ptr.q.val()) & self.ptr_mask.val())
                == self.depth.val()
            {
                self.overflow.next = true;
            } else {
                self.data_ram.write_enable.next = true;
                self.last_ram.write_enable.next = true;
                self.a_ram.write_enable.next = true;
                self.b_ram.write_enable.next = self.b_enable.val();
                self.wr_ptr.d.next = (self.wr_ptr.q.val() + self.one.val()) & self.ptr_mask.val();
            }
        }
        if self.pop.val() && !self.empty.val() {
            self.rd_ptr.d.next = (self.rd_ptr.q.val() + self.one.val()) & self.ptr_mask.val();
        }
        if self.reset.val() {
            self.wr_ptr.d.next = self.zero.val();
            self.rd_ptr.d.next = self.zero.val();
        }
    }
}
