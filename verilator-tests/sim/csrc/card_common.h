// Structs shared by every card shim and by src/card_ffi.rs (#[repr(C)] twins).
#pragma once
#include <cstdint>

// Card-wide inputs and outputs of one cycle.
struct CardIo {
    uint8_t reset;
    uint8_t bus_we;
    uint8_t bus_re;
    uint8_t bus_error;  // out
    uint32_t bus_addr;
    uint32_t bus_wdata;
    uint32_t bus_rdata;  // out
    uint8_t irq[256];    // out, one per node
    // Fault injection, per node (as the bare mesh's PortIo): router killed,
    // outgoing directions cut and corrupted (bit per port N, E, S, W).
    uint8_t kill[256];
    uint8_t cut[256];
    uint8_t corrupt[256];
};

// One DMA port (TX or RX engine of one node); slot 2k is node k's TX, 2k+1 its RX.
struct DmaIo {
    uint64_t addr;      // out
    uint64_t wdata;     // out
    uint64_t rsp_data;
    uint8_t valid;      // out
    uint8_t write;      // out
    uint8_t wstrb;      // out
    uint8_t rsp_valid;
    uint8_t rsp_err;
    uint8_t pad[3];
};
