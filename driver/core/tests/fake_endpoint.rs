//! The queue layer, block walk and version checks over the heap-backed
//! reference model (`FakeCard`, loopback).

use proptest::prelude::*;
use replimesh_driver::fake::FakeCard;
use replimesh_driver::{probe, Device, DriverError, Endpoint, EndpointConfig};
use replimesh_regs::regmap as r;
use replimesh_regs::{PacketHeader, TxDesc};
use replimesh_spec::regmap::{self as spec, ErrorCause, BLOCK_NEXT_OFFSET, BLOCK_VERSION_OFFSET};
use replimesh_spec::NodeId;
use zerocopy::byteorder::little_endian::{U32, U64};

fn cfg(tx: u32, rx: u32) -> EndpointConfig {
    EndpointConfig {
        tx_entries: tx,
        rx_entries: rx,
        ..Default::default()
    }
}

fn header(seq: u16) -> PacketHeader {
    PacketHeader::unicast(NodeId(5), seq, 0)
}

fn payload(seq: u16, n: usize) -> Vec<u64> {
    (0..n as u64).map(|k| (seq as u64) << 32 | k).collect()
}

#[test]
fn loopback_delivers_payload_with_src_stamped() {
    let mut ep = Endpoint::open(FakeCard::new(5), cfg(8, 8)).unwrap();
    assert_eq!(ep.info().node, NodeId(5));
    let mut h = header(7);
    h.src = 11; // the host cannot set src
    ep.send(&h, &payload(7, 3)).unwrap();
    let got = ep.recv_wait(100).unwrap();
    assert_eq!(got.header.src, 5);
    assert_eq!(got.header.seq, 7);
    assert_eq!(got.header.len, 3);
    assert_eq!(got.payload, payload(7, 3));
    let c = ep.counters().unwrap();
    assert_eq!((c.tx_packets, c.rx_packets, c.tx_bytes), (1, 1, 32));
}

#[test]
fn tx_ring_full_is_reported_and_nothing_is_lost() {
    let mut ep = Endpoint::open(FakeCard::new(1), cfg(4, 16)).unwrap();
    ep.device().packets_per_cycle = 0; // engine stalled
    for s in 0..3 {
        ep.send(&header(s), &payload(s, 1)).unwrap();
    }
    assert!(matches!(
        ep.send(&header(3), &payload(3, 1)),
        Err(DriverError::RingFull { size: 4 })
    ));
    ep.device().packets_per_cycle = 1;
    ep.device().advance_time(10).unwrap();
    let got: Vec<u16> = ep
        .recv_batch(16)
        .unwrap()
        .iter()
        .map(|p| p.header.seq)
        .collect();
    assert_eq!(got, vec![0, 1, 2]);
    ep.send(&header(3), &payload(3, 1)).unwrap();
    assert_eq!(ep.recv_wait(100).unwrap().header.seq, 3);
}

#[test]
fn full_rx_ring_backs_up_the_tx_ring_without_loss() {
    let mut ep = Endpoint::open(FakeCard::new(1), cfg(8, 4)).unwrap();
    let sent = ep
        .send_batch(
            &(0..7)
                .map(|s| (header(s), payload(s, 2)))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    assert_eq!(sent, 7);
    ep.device().advance_time(50).unwrap();
    ep.reclaim_tx().unwrap();
    assert_eq!(ep.tx_in_flight(), 4, "RX holds 3, the 4th waits");
    let mut seqs = vec![];
    for _ in 0..20 {
        seqs.extend(ep.recv_batch(8).unwrap().into_iter().map(|p| p.header.seq));
        ep.device().advance_time(5).unwrap();
    }
    assert_eq!(seqs, (0..7).collect::<Vec<_>>());
}

#[test]
fn batching_rings_one_doorbell_per_batch() {
    let mut ep = Endpoint::open(FakeCard::new(1), cfg(64, 64)).unwrap();
    let batch: Vec<_> = (0..16).map(|s| (header(s), payload(s, 1))).collect();
    assert_eq!(ep.send_batch(&batch).unwrap(), 16);
    ep.device().advance_time(40).unwrap();
    let got = ep.recv_batch(64).unwrap();
    assert_eq!(got.len(), 16);
    assert_eq!(ep.stats().doorbells, 2); // one TX producer, one RX consumer
}

#[test]
fn interrupts_are_moderated_by_count() {
    let c = EndpointConfig {
        irq_count: 4,
        poll_mode: false,
        ..cfg(16, 16)
    };
    let mut ep = Endpoint::open(FakeCard::new(2), c).unwrap();
    let batch: Vec<_> = (0..8).map(|s| (header(s), payload(s, 1))).collect();
    ep.send_batch(&batch).unwrap();
    ep.device().advance_time(40).unwrap();
    let mut events = 0;
    while ep.device().take_event().is_some() {
        events += 1;
    }
    assert_eq!(events, 2);
    assert_eq!(ep.read(r::IRQ_RAISED_TOTAL).unwrap(), 2);
    assert_eq!(ep.ack_interrupts().unwrap() & 1, 1);
    assert_eq!(ep.read(r::IRQ_STATUS).unwrap(), 0, "W1C cleared");
}

#[test]
fn poll_mode_raises_no_interrupt() {
    let mut ep = Endpoint::open(FakeCard::new(2), cfg(16, 16)).unwrap();
    ep.send(&header(1), &payload(1, 1)).unwrap();
    ep.recv_wait(50).unwrap();
    assert!(ep.device().take_event().is_none());
    assert_eq!(ep.read(r::IRQ_RAISED_TOTAL).unwrap(), 0);
}

fn id_base() -> u64 {
    spec::placed(&spec::ID_BLOCK).unwrap().base as u64
}

#[test]
fn refuses_another_major_version_or_hash() {
    let mut card = FakeCard::new(0);
    card.poke(
        id_base() + spec::id::SPEC_VERSION.offset as u64,
        spec::v(2, 0, 0).word(),
    );
    let e = probe(&mut card).unwrap_err();
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

    let mut card = FakeCard::new(0);
    card.poke(id_base() + spec::id::SPEC_HASH.offset as u64, 0x1234);
    assert!(matches!(
        probe(&mut card),
        Err(DriverError::SpecHashMismatch { found: 0x1234, .. })
    ));

    let mut card = FakeCard::new(0);
    let tx = spec::placed(&spec::TX_RING_BLOCK).unwrap().base as u64;
    card.poke(tx + BLOCK_VERSION_OFFSET as u64, spec::v(3, 0, 0).word());
    assert!(matches!(
        probe(&mut card),
        Err(DriverError::IncompatibleVersion {
            what: "tx_ring",
            ..
        })
    ));

    let mut card = FakeCard::new(0);
    card.poke(0, 0x1234_0010);
    assert!(matches!(
        probe(&mut card),
        Err(DriverError::NotReplimesh { found: 0x1234_0010 })
    ));
}

#[test]
fn block_walk_stops_at_loops_and_window_end() {
    let irq = spec::placed(&spec::IRQ_BLOCK).unwrap().base as u64;
    let mut card = FakeCard::new(0);
    card.poke(irq + BLOCK_NEXT_OFFSET as u64, 0x100);
    assert!(matches!(
        probe(&mut card),
        Err(DriverError::ChainLoop { next: 0x100, .. })
    ));
    let mut card = FakeCard::new(0);
    card.poke(irq + BLOCK_NEXT_OFFSET as u64, 0xFFFF0);
    assert!(matches!(
        probe(&mut card),
        Err(DriverError::ChainOutOfWindow { .. })
    ));
    let map = replimesh_driver::BlockMap::walk(&mut FakeCard::new(0)).unwrap();
    assert_eq!(map.blocks().len(), spec::NODE_WINDOW.len());
    for (found, placed) in map.blocks().iter().zip(spec::NODE_WINDOW) {
        assert_eq!(found.base.0, placed.base as u64);
        assert_eq!(found.type_word, placed.spec.type_word());
    }
}

#[test]
fn vanished_card_is_reported_not_acted_on() {
    let mut ep = Endpoint::open(FakeCard::new(3), cfg(8, 8)).unwrap();
    ep.device().vanish();
    assert!(matches!(ep.counters(), Err(DriverError::DeviceGone { .. })));
    assert!(matches!(
        ep.last_error(),
        Err(DriverError::DeviceGone { .. })
    ));
    let mut card = FakeCard::new(3);
    card.vanish();
    let e = probe(&mut card).unwrap_err();
    assert!(matches!(e, DriverError::DeviceGone { .. }));
    assert!(e.to_string().contains("0xffffffff"));
}

#[test]
fn bad_descriptors_are_counted_completed_with_cause_and_harmless() {
    let mut ep = Endpoint::open(FakeCard::new(4), cfg(8, 8)).unwrap();
    let good = ep.tx_buffer_iova(0);
    // Length not a multiple of 8, then over the maximum.
    for len in [7u32, 4096] {
        ep.send_raw_descriptor(TxDesc {
            addr: U64::new(good.0),
            len: U32::new(len),
            status: U32::new(0),
        })
        .unwrap();
    }
    // Buffer outside the DMA window.
    ep.send_raw_descriptor(TxDesc {
        addr: U64::new(0x10),
        len: U32::new(16),
        status: U32::new(0),
    })
    .unwrap();
    ep.device().advance_time(20).unwrap();
    ep.reclaim_tx().unwrap();
    assert_eq!(ep.stats().tx_errors, 3);
    let c = ep.counters().unwrap();
    assert_eq!(c.error(ErrorCause::TxLength), 2);
    assert_eq!(c.error(ErrorCause::DmaWindow), 1);
    assert_eq!(c.tx_packets, 0);
    let last = ep.last_error().unwrap();
    assert_eq!(
        (last.cause, last.value),
        (Some(ErrorCause::DmaWindow), 0x10)
    );
    // The ring still works.
    ep.send(&header(9), &payload(9, 2)).unwrap();
    assert_eq!(ep.recv_wait(100).unwrap().payload, payload(9, 2));
    assert!(ep.recv().unwrap().is_none());
}

#[test]
fn bad_register_writes_are_counted_and_change_nothing() {
    let mut ep = Endpoint::open(FakeCard::new(4), cfg(8, 8)).unwrap();
    let tx = ep.blocks().find_spec(&spec::TX_RING_BLOCK).unwrap().base;
    // Doorbell past the ring.
    ep.write(r::TX_PRODUCER, 8).unwrap();
    assert_eq!(ep.read(r::TX_PRODUCER).unwrap(), 0);
    // Read-only register.
    ep.write(r::TX_CONSUMER, 3).unwrap();
    assert_eq!(ep.read(r::TX_CONSUMER).unwrap(), 0);
    // Unmapped offset.
    ep.write_raw(tx.add(0x80), 1).unwrap();
    // Bad ring size.
    ep.write(r::RX_SIZE, 6).unwrap();
    assert_eq!(ep.read(r::RX_SIZE).unwrap(), 8);
    let c = ep.counters().unwrap();
    assert_eq!(c.error(ErrorCause::RingIndex), 1);
    assert_eq!(c.error(ErrorCause::RegReadOnly), 1);
    assert_eq!(c.error(ErrorCause::RegUnmapped), 1);
    assert_eq!(c.error(ErrorCause::RingSize), 1);
    ep.send(&header(1), &payload(1, 1)).unwrap();
    assert_eq!(ep.recv_wait(100).unwrap().header.seq, 1);
}

#[test]
fn endpoint_index_past_the_ring_is_not_acted_on() {
    let mut ep = Endpoint::open(FakeCard::new(4), cfg(8, 8)).unwrap();
    let m = ep.tx_mirror_iova();
    ep.device().poke_mirror(m, 99);
    assert!(matches!(
        ep.reclaim_tx(),
        Err(DriverError::BadDeviceIndex {
            ring: "tx",
            index: 99,
            ..
        })
    ));
    let m = ep.rx_mirror_iova();
    ep.device().poke_mirror(m, 8);
    assert!(matches!(
        ep.recv(),
        Err(DriverError::BadDeviceIndex {
            ring: "rx",
            index: 8,
            ..
        })
    ));
}

#[derive(Debug, Clone)]
enum Op {
    Send(u8),
    Advance(u8),
    Recv(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u8..6).prop_map(Op::Send),
        (0u8..8).prop_map(Op::Advance),
        (1u8..6).prop_map(Op::Recv),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Any interleaving of sends, time and receives over small rings delivers
    /// every packet exactly once, in order, with its payload, however often
    /// the indices wrap.
    #[test]
    fn rings_deliver_exactly_once_in_order(tx in 1u32..4, rx in 1u32..4, ops in prop::collection::vec(op(), 1..80)) {
        let mut ep = Endpoint::open(FakeCard::new(6), cfg(1 << tx, 1 << rx)).unwrap();
        let (mut next, mut want) = (0u16, 0u16);
        let mut check = |ep: &mut Endpoint<FakeCard>, max: usize| -> Result<(), TestCaseError> {
            for p in ep.recv_batch(max).unwrap() {
                prop_assert_eq!(p.header.seq, want);
                prop_assert_eq!(p.payload, payload(want, (want % 4) as usize));
                want += 1;
            }
            Ok(())
        };
        for o in ops {
            match o {
                Op::Send(n) => {
                    let batch: Vec<_> = (0..n as u16).map(|k| (header(next + k), payload(next + k, ((next + k) % 4) as usize))).collect();
                    next += ep.send_batch(&batch).unwrap() as u16;
                }
                Op::Advance(t) => ep.device().advance_time(t as u64).unwrap(),
                Op::Recv(n) => check(&mut ep, n as usize)?,
            }
        }
        for _ in 0..200 {
            ep.device().advance_time(2).unwrap();
            check(&mut ep, 8)?;
        }
        prop_assert_eq!(want, next);
        let c = ep.counters().unwrap();
        prop_assert!(c.errors.iter().all(|(_, n)| *n == 0));
    }
}
