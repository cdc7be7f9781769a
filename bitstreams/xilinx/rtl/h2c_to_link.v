// AXI-Stream <-> replimesh link adapter (credit flow control).
// PLACEHOLDER for the endpoint's DMA port (issue 5): XDMA's H2C stream feeds
// node 0's local input, node 0's local output feeds the C2H stream.

// H2C stream -> link into a router. Holds the receiver's credits
// (CREDITS = the router's input FIFO depth, 8 by default).
module h2c_to_link #(
    parameter integer W = 64,
    parameter integer CREDITS = 8
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [W-1:0] s_tdata,
    input  wire         s_tlast,
    input  wire         s_tvalid,
    output wire         s_tready,
    output reg          link_valid,
    output reg          link_last,
    output reg  [W-1:0] link_data,
    input  wire         link_credit
);
    reg [7:0] credits;
    wire take = s_tvalid && s_tready;
    assign s_tready = (credits != 8'd0);
    always @(posedge clk) begin
        link_valid <= take;
        link_last  <= s_tlast;
        link_data  <= s_tdata;
        if (rst) begin
            credits    <= CREDITS[7:0];
            link_valid <= 1'b0;
        end else begin
            credits <= credits - {7'd0, take} + {7'd0, link_credit};
        end
    end
endmodule
