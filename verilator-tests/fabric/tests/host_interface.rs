//! The host interface on the generated card Verilog: every node drives its
//! own endpoint only through the driver's `Device` trait (`SimDevice`) and
//! its rings in host memory; the scoreboard checks every packet.

use replimesh_driver::{probe, BarOffset, Device, DriverError, Endpoint, EndpointConfig};
use replimesh_regs::regmap as r;
use replimesh_regs::{PacketHeader, TxDesc};
use replimesh_scoreboard::{payload_flit, Scoreboard};
use replimesh_sim::card::{CardSim, SharedCard, SimDevice};
use replimesh_sim::Delivered;
use replimesh_spec::regmap::{self as spec, ErrorCause};
use replimesh_spec::{router_addr, MeshGeometry, NodeId, ROUTER_ID_VALUE};
use zerocopy::byteorder::little_endian::{U32, U64};

fn card(w: u32, h: u32) -> SharedCard {
    CardSim::new(MeshGeometry::new(w, h).unwrap()).expect("card model built")
}

fn open_all(card: &SharedCard, cfg: EndpointConfig) -> Vec<Endpoint<SimDevice>> {
    CardSim::devices(card)
        .into_iter()
        .map(|d| Endpoint::open(d, cfg).expect("endpoint opens"))
        .collect()
}

fn cfg(tx: u32, rx: u32) -> EndpointConfig {
    EndpointConfig {
        tx_entries: tx,
        rx_entries: rx,
        ..Default::default()
    }
}

/// A packet from `src` to `dest` with a checkable payload of `len` flits.
fn packet(
    sb: &mut Scoreboard,
    src: NodeId,
    dest: NodeId,
    len: usize,
    cycle: u64,
) -> (PacketHeader, Vec<u64>) {
    let seq = sb.next_seq(src, dest);
    let mut h = PacketHeader::unicast(dest, seq, len as u8);
    h.src = src.0;
    let payload: Vec<u64> = (0..len)
        .map(|i| payload_flit(src, dest, seq, i, 64))
        .collect();
    sb.on_send(h, payload.clone(), cycle);
    // The host cannot choose src: send a wrong one, the ingress router fixes it.
    h.src = 0xEE;
    (h, payload)
}

fn deliver(sb: &mut Scoreboard, node: NodeId, p: replimesh_driver::Received, cycle: u64) {
    sb.on_deliver(&Delivered::from_host(node, p, cycle));
}

/// Sends `queues[i]` from node i, receiving everywhere, until all arrive.
fn run(
    eps: &mut [Endpoint<SimDevice>],
    sb: &mut Scoreboard,
    mut queues: Vec<Vec<(PacketHeader, Vec<u64>)>>,
    limit: u64,
) {
    let ids: Vec<NodeId> = eps.iter().map(|e| e.info().node).collect();
    let start = eps[0].device().now();
    while sb.outstanding() > 0 || queues.iter().any(|q| !q.is_empty()) {
        let now = eps[0].device().now();
        assert!(
            now - start < limit,
            "not done after {limit} cycles: {} outstanding",
            sb.outstanding()
        );
        for (i, ep) in eps.iter_mut().enumerate() {
            if !queues[i].is_empty() {
                let n = ep.send_batch(&queues[i][..queues[i].len().min(8)]).unwrap();
                queues[i].drain(..n);
            }
            for p in ep.recv_batch(16).unwrap() {
                deliver(sb, ids[i], p, now);
            }
        }
        eps[0].device().advance_time(8).unwrap();
    }
}

#[test]
fn sixteen_nodes_exchange_packets_only_through_their_rings() {
    let card = card(4, 4);
    let mut eps = open_all(&card, cfg(16, 16));
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut sb = Scoreboard::new();
    let mut queues = vec![vec![]; 16];
    for (i, q) in queues.iter_mut().enumerate() {
        let src = g.id_at(i);
        assert_eq!(eps[i].info().node, src);
        for round in 0..3 {
            for dest in g.node_ids().filter(|d| *d != src) {
                let len = (i + dest.0 as usize + round) % 9; // 0..=8 payload flits
                q.push(packet(&mut sb, src, dest, len, 0));
            }
        }
    }
    run(&mut eps, &mut sb, queues, 400_000);
    let report = sb.finish();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.sent, 16 * 15 * 3);
    for ep in &mut eps {
        let c = ep.counters().unwrap();
        assert_eq!((c.tx_packets, c.rx_packets), (45, 45));
        assert!(c.errors.iter().all(|(_, n)| *n == 0), "{c:?}");
    }
    let c = card.borrow();
    assert!((0..16).all(|k| c.dma_refused(k) == 0));
}

#[test]
fn rings_wrap_around_many_times() {
    let card = card(2, 2);
    let mut eps = open_all(&card, cfg(4, 4));
    let mut sb = Scoreboard::new();
    let mut queues = vec![vec![]; 4];
    for k in 0..50 {
        queues[0].push(packet(&mut sb, NodeId(0), NodeId(3), k % 5, 0));
        queues[3].push(packet(&mut sb, NodeId(3), NodeId(0), (k + 2) % 5, 0));
    }
    run(&mut eps, &mut sb, queues, 200_000);
    let report = sb.finish();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.sent, 100);
}

#[test]
fn full_rings_back_pressure_without_loss() {
    let card = card(2, 2);
    let mut eps = open_all(&card, cfg(8, 4));
    let mut sb = Scoreboard::new();
    let mut pending: Vec<_> = (0..40)
        .map(|k| packet(&mut sb, NodeId(1), NodeId(2), k % 4, 0))
        .collect();
    // Node 2 does not read: its RX ring fills (3 usable slots), its endpoint
    // stops taking flits, the mesh backs up and node 1's TX ring fills.
    let mut full_seen = false;
    for _ in 0..400 {
        let n = eps[1].send_batch(&pending).unwrap();
        full_seen |= n < pending.len();
        pending.drain(..n);
        eps[1].device().advance_time(10).unwrap();
    }
    assert!(full_seen, "the TX ring never filled");
    assert!(!pending.is_empty());
    let c = eps[2].counters().unwrap();
    assert_eq!(c.rx_packets, 3, "RX ring holds size-1 packets");
    assert_eq!(c.rx_drops, 0);
    // Now node 2 reads: everything arrives, in order.
    run(
        &mut eps,
        &mut sb,
        vec![vec![], pending, vec![], vec![]],
        200_000,
    );
    let report = sb.finish();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(eps[2].counters().unwrap().rx_packets, 40);
}

#[test]
fn interrupts_are_moderated_by_count_and_time_and_silent_in_poll_mode() {
    let card = card(2, 2);
    let by_count = EndpointConfig {
        irq_count: 4,
        poll_mode: false,
        ..cfg(16, 16)
    };
    let mut devs = CardSim::devices(&card).into_iter();
    let mut tx = Endpoint::open(devs.next().unwrap(), cfg(16, 16)).unwrap();
    let mut rx = Endpoint::open(devs.next().unwrap(), by_count).unwrap();
    let h = PacketHeader::unicast(NodeId(1), 0, 0);
    let batch: Vec<_> = (0..8).map(|_| (h, vec![7u64])).collect();
    tx.send_batch(&batch).unwrap();
    tx.device().advance_time(400).unwrap();
    let mut events = vec![];
    while let Some(e) = rx.device().take_event() {
        events.push(e);
    }
    assert_eq!(
        events.len(),
        2,
        "8 packets, one interrupt per 4: {events:?}"
    );
    assert_eq!(rx.read(r::IRQ_RAISED_TOTAL).unwrap(), 2);
    assert_eq!(rx.ack_interrupts().unwrap() & 0b101, 0b001);
    assert_eq!(rx.recv_batch(16).unwrap().len(), 8);

    // By time: the count is out of reach, 50 cycles after the first event.
    rx.write(r::IRQ_MOD_COUNT, 100).unwrap();
    rx.write(r::IRQ_MOD_CYCLES, 50).unwrap();
    tx.send(&h, &[1]).unwrap();
    let sent_at = tx.device().now();
    let e = rx.device().wait(1000).unwrap().expect("a timed interrupt");
    let waited = e.at_cycle - sent_at;
    assert!(
        (50..200).contains(&waited),
        "interrupt {waited} cycles after the send"
    );
    rx.recv().unwrap().expect("the packet");

    // Poll mode: nothing.
    rx.write(r::IRQ_POLL_MODE, 1).unwrap();
    rx.write(r::IRQ_MOD_COUNT, 1).unwrap();
    tx.send(&h, &[2]).unwrap();
    assert!(rx.device().wait(500).unwrap().is_none());
    assert_eq!(rx.recv().unwrap().expect("the packet").payload, vec![2]);
}

/// A device that reports another register-map version, as a bitstream from
/// another release would.
struct OtherVersion(SimDevice);

impl Device for OtherVersion {
    fn window_bytes(&self) -> u64 {
        self.0.window_bytes()
    }
    fn read32(&mut self, o: BarOffset) -> Result<u32, DriverError> {
        let v = self.0.read32(o)?;
        Ok(if o.0 == spec::id::SPEC_VERSION.offset as u64 {
            spec::v(2, 0, 0).word()
        } else {
            v
        })
    }
    fn write32(&mut self, o: BarOffset, v: u32) -> Result<(), DriverError> {
        self.0.write32(o, v)
    }
    fn alloc_dma(&mut self, b: usize) -> Result<replimesh_driver::DmaRegion, DriverError> {
        self.0.alloc_dma(b)
    }
    fn free_dma(&mut self, r: replimesh_driver::DmaRegion) -> Result<(), DriverError> {
        self.0.free_dma(r)
    }
    fn dma_read(
        &mut self,
        r: &replimesh_driver::DmaRegion,
        o: usize,
        b: &mut [u8],
    ) -> Result<(), DriverError> {
        self.0.dma_read(r, o, b)
    }
    fn dma_write(
        &mut self,
        r: &replimesh_driver::DmaRegion,
        o: usize,
        d: &[u8],
    ) -> Result<(), DriverError> {
        self.0.dma_write(r, o, d)
    }
    fn take_event(&mut self) -> Option<replimesh_driver::Event> {
        self.0.take_event()
    }
    fn wait(&mut self, c: u64) -> Result<Option<replimesh_driver::Event>, DriverError> {
        self.0.wait(c)
    }
    fn advance_time(&mut self, c: u64) -> Result<(), DriverError> {
        self.0.advance_time(c)
    }
    fn now(&self) -> u64 {
        self.0.now()
    }
}

#[test]
fn the_card_describes_itself_and_the_driver_refuses_another_version() {
    let card = card(2, 2);
    let mut devs = CardSim::devices(&card);
    // The RTL's block chain is the spec's, and it carries the spec's hash.
    let (map, info) = probe(&mut devs[3]).unwrap();
    assert_eq!(map.blocks().len(), spec::NODE_WINDOW.len());
    for (found, placed) in map.blocks().iter().zip(spec::NODE_WINDOW) {
        assert_eq!(
            (found.base.0, found.type_word, found.version),
            (
                placed.base as u64,
                placed.spec.type_word(),
                placed.spec.version
            )
        );
    }
    assert_eq!(info.spec_hash, spec::spec_hash());
    assert_eq!(
        (info.node, info.width, info.height, info.flit_bits),
        (NodeId(3), 2, 2, 64)
    );
    // The router is reached through the node's own window.
    let router = map.find_spec(&spec::ROUTER_BLOCK).unwrap().base;
    let at = |a: u32| router.add(spec::ROUTER_CFG_OFFSET + 4 * a);
    assert_eq!(
        devs[3].read32(at(router_addr::ID)).unwrap(),
        ROUTER_ID_VALUE
    );
    assert_eq!(devs[3].read32(at(router_addr::NODE_ID)).unwrap(), 3);
    assert_eq!(devs[1].read32(at(router_addr::NODE_ID)).unwrap(), 1);

    let dev = devs.remove(0);
    let e = Endpoint::open(OtherVersion(dev), cfg(4, 4))
        .err()
        .expect("refused");
    assert!(
        matches!(
            e,
            DriverError::IncompatibleVersion {
                what: "register map",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("2.0.0.0"), "{e}");
}

#[test]
fn a_vanished_card_is_reported_not_acted_on() {
    let card = card(2, 2);
    let mut eps = open_all(&card, cfg(8, 8));
    card.borrow_mut().set_vanished(true);
    assert!(matches!(
        eps[0].counters(),
        Err(DriverError::DeviceGone { .. })
    ));
    assert!(matches!(
        eps[0].last_error(),
        Err(DriverError::DeviceGone { .. })
    ));
    assert!(matches!(
        probe(eps[1].device()),
        Err(DriverError::DeviceGone {
            offset: BarOffset(0)
        })
    ));
    card.borrow_mut().set_vanished(false);
    // Nothing was written on the strength of an all-ones value.
    let c = eps[0].counters().unwrap();
    assert!(c.errors.iter().all(|(_, n)| *n == 0), "{c:?}");
    eps[0]
        .send(&PacketHeader::unicast(NodeId(1), 0, 0), &[5])
        .unwrap();
    assert_eq!(eps[1].recv_wait(2000).unwrap().payload, vec![5]);
}

#[test]
fn bad_descriptors_indices_and_registers_are_rejected_counted_and_harmless() {
    let card = card(2, 2);
    let mut eps = open_all(&card, cfg(8, 8));
    let ep = &mut eps[0];
    let good = ep.tx_buffer_iova(0).0;
    let bad = |addr: u64, len: u32| TxDesc {
        addr: U64::new(addr),
        len: U32::new(len),
        status: U32::new(0),
    };
    ep.send_raw_descriptor(bad(good, 12)).unwrap(); // not a multiple of 8
    ep.send_raw_descriptor(bad(good, 4096)).unwrap(); // over the maximum
    ep.send_raw_descriptor(bad(0x10, 16)).unwrap(); // outside the DMA window
    let outside = ep.tx_buffer_iova(0).0 + ep.dma_bytes() as u64 - 8;
    ep.send_raw_descriptor(bad(outside, 16)).unwrap(); // straddles the window end
    ep.device().advance_time(200).unwrap();
    assert_eq!(ep.reclaim_tx().unwrap(), 4, "all four consumed");
    let c = ep.counters().unwrap();
    assert_eq!(c.error(ErrorCause::TxLength), 2, "{c:?}");
    assert_eq!(c.error(ErrorCause::DmaWindow), 2, "{c:?}");
    assert_eq!(c.tx_packets, 0);
    let last = ep.last_error().unwrap();
    assert_eq!(
        (last.cause, last.info, last.value),
        (Some(ErrorCause::DmaWindow), 3, outside)
    );
    // Each bad descriptor completed with its cause (the error completion).
    assert_eq!(ep.stats().tx_errors, 4);

    // Doorbell past the ring, write to a read-only register, unmapped offset, bad size.
    ep.write(r::TX_PRODUCER, 8).unwrap();
    ep.write(r::TX_CONSUMER, 1).unwrap();
    let tx = ep.blocks().find_spec(&spec::TX_RING_BLOCK).unwrap().base;
    ep.write_raw(tx.add(0x80), 1).unwrap();
    ep.write(r::RX_SIZE, 12).unwrap();
    ep.write(r::RX_CONSUMER, 9).unwrap();
    assert_eq!(ep.read(r::RX_SIZE).unwrap(), 8);
    let c = ep.counters().unwrap();
    assert_eq!(c.error(ErrorCause::RingIndex), 2, "{c:?}");
    assert_eq!(c.error(ErrorCause::RegReadOnly), 1, "{c:?}");
    assert_eq!(c.error(ErrorCause::RegUnmapped), 1, "{c:?}");
    assert_eq!(c.error(ErrorCause::RingSize), 1, "{c:?}");
    let last = ep.last_error().unwrap();
    assert_eq!((last.cause, last.value), (Some(ErrorCause::RingIndex), 9));
    assert!(card.borrow().bus_errors() >= 5);

    // Nothing was corrupted: traffic still flows both ways, and the endpoint
    // never reached outside its window.
    let mut sb = Scoreboard::new();
    let queues = vec![
        (0..10)
            .map(|k| packet(&mut sb, NodeId(0), NodeId(1), k % 3, 0))
            .collect(),
        (0..10)
            .map(|k| packet(&mut sb, NodeId(1), NodeId(0), k % 3, 0))
            .collect(),
        vec![],
        vec![],
    ];
    run(&mut eps, &mut sb, queues, 100_000);
    let report = sb.finish();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(card.borrow().dma_refused(0), 0);
}

#[test]
fn a_packet_longer_than_its_rx_buffer_completes_with_overflow() {
    let card = card(2, 2);
    let mut eps = open_all(&card, cfg(8, 8));
    // Shrink the first armed RX buffer of node 1 to 16 bytes behind the
    // driver's back (as a buggy driver would), then send 24 bytes to it.
    eps[1].arm_rx_with_capacity(0, 16).unwrap();
    eps[0]
        .send(&PacketHeader::unicast(NodeId(1), 0, 2), &[1, 2])
        .unwrap();
    eps[0]
        .send(&PacketHeader::unicast(NodeId(1), 1, 1), &[3])
        .unwrap();
    eps[0].device().advance_time(300).unwrap();
    let got = eps[1].recv_batch(8).unwrap();
    assert_eq!(
        got.len(),
        1,
        "the overflowing packet is dropped, the next one arrives"
    );
    assert_eq!(got[0].payload, vec![3]);
    assert_eq!(eps[1].stats().rx_errors, 1);
    let c = eps[1].counters().unwrap();
    assert_eq!((c.error(ErrorCause::RxOverflow), c.rx_drops), (1, 1));
}
