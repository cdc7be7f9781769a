// AXI-Stream <-> replimesh link adapter (credit flow control).
// PLACEHOLDER for the endpoint's DMA port (issue 5): XDMA's H2C stream feeds
// node 0's local input, node 0's local output feeds the C2H stream.

// Link out of a router -> C2H stream. An 8-flit FIFO (the credits the router
// starts with); each flit the stream takes returns one credit.
module link_to_c2h #(
    parameter integer W = 64
) (
    input  wire         clk,
    input  wire         rst,
    input  wire         link_valid,
    input  wire         link_last,
    input  wire [W-1:0] link_data,
    output reg          link_credit,
    output wire [W-1:0] m_tdata,
    output wire         m_tlast,
    output wire         m_tvalid,
    input  wire         m_tready
);
    reg [W:0] mem [0:7];
    reg [3:0] wr;
    reg [3:0] rd;
    assign m_tvalid = (wr != rd);
    assign {m_tlast, m_tdata} = mem[rd[2:0]];
    always @(posedge clk) begin
        if (link_valid) mem[wr[2:0]] <= {link_last, link_data};
    end
    always @(posedge clk) begin
        link_credit <= 1'b0;
        if (rst) begin
            wr <= 4'd0;
            rd <= 4'd0;
        end else begin
            if (link_valid) wr <= wr + 4'd1;
            if (m_tvalid && m_tready) begin
                rd <= rd + 4'd1;
                link_credit <= 1'b1;
            end
        end
    end
endmodule
