// AXI4-Lite slave -> replimesh configuration bus.
// PLACEHOLDER until the endpoint (issue 5) exists: it gives the host the
// routers' registers through BAR0 and nothing else.
// Byte address: [19:12] node id, [11:2] register word address (router map,
// docs/router-registers.md). One access at a time; a partial write (wstrb
// not all ones) or a rejected access answers SLVERR.
// Timing: the strobe is registered here, the mesh answers one cycle later.
module axil_cfg_shim (
    input  wire        clk,
    input  wire        rst,
    /* verilator lint_off UNUSEDSIGNAL */
    // Bits [1:0] address bytes inside a word: accesses are whole words.
    input  wire [19:0] s_axil_awaddr,
    input  wire [19:0] s_axil_araddr,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire        s_axil_awvalid,
    output wire        s_axil_awready,
    input  wire [31:0] s_axil_wdata,
    input  wire [3:0]  s_axil_wstrb,
    input  wire        s_axil_wvalid,
    output wire        s_axil_wready,
    output wire [1:0]  s_axil_bresp,
    output wire        s_axil_bvalid,
    input  wire        s_axil_bready,
    input  wire        s_axil_arvalid,
    output wire        s_axil_arready,
    output wire [31:0] s_axil_rdata,
    output wire [1:0]  s_axil_rresp,
    output wire        s_axil_rvalid,
    input  wire        s_axil_rready,
    output reg  [7:0]  cfg_node,
    output reg  [15:0] cfg_addr,
    output reg  [31:0] cfg_wdata,
    output reg         cfg_we,
    output reg         cfg_re,
    input  wire [31:0] cfg_rdata,
    input  wire        cfg_error
);
    localparam [2:0] IDLE = 3'd0, STROBE = 3'd1, CAPTURE = 3'd2, BRESP = 3'd3, RRESP = 3'd4;
    reg [2:0]  state;
    reg        is_read;
    reg        err_q;
    reg [31:0] rdata_q;
    wire write_req = s_axil_awvalid && s_axil_wvalid;
    assign s_axil_awready = (state == IDLE) && write_req;
    assign s_axil_wready  = s_axil_awready;
    assign s_axil_arready = (state == IDLE) && !write_req && s_axil_arvalid;
    assign s_axil_bvalid  = (state == BRESP);
    assign s_axil_bresp   = err_q ? 2'b10 : 2'b00;
    assign s_axil_rvalid  = (state == RRESP);
    assign s_axil_rresp   = err_q ? 2'b10 : 2'b00;
    assign s_axil_rdata   = rdata_q;
    always @(posedge clk) begin
        cfg_we <= 1'b0;
        cfg_re <= 1'b0;
        if (rst) begin
            state   <= IDLE;
            is_read <= 1'b0;
            err_q   <= 1'b0;
            rdata_q <= 32'd0;
            cfg_node <= 8'd0;
            cfg_addr <= 16'd0;
            cfg_wdata <= 32'd0;
        end else begin
            case (state)
                IDLE:
                    if (s_axil_awready) begin
                        cfg_node  <= s_axil_awaddr[19:12];
                        cfg_addr  <= {6'd0, s_axil_awaddr[11:2]};
                        cfg_wdata <= s_axil_wdata;
                        is_read   <= 1'b0;
                        if (s_axil_wstrb == 4'hf) begin
                            cfg_we <= 1'b1;
                            state  <= STROBE;
                        end else begin
                            err_q <= 1'b1;
                            state <= BRESP;
                        end
                    end else if (s_axil_arready) begin
                        cfg_node <= s_axil_araddr[19:12];
                        cfg_addr <= {6'd0, s_axil_araddr[11:2]};
                        cfg_re   <= 1'b1;
                        is_read  <= 1'b1;
                        state    <= STROBE;
                    end
                STROBE: state <= CAPTURE;
                CAPTURE: begin
                    rdata_q <= cfg_rdata;
                    err_q   <= cfg_error;
                    state   <= is_read ? RRESP : BRESP;
                end
                BRESP: if (s_axil_bready) state <= IDLE;
                RRESP: if (s_axil_rready) state <= IDLE;
                default: state <= IDLE;
            endcase
        end
    end
endmodule
