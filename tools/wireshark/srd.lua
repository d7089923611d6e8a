-- srd.lua: a Wireshark dissector for srd-dataplane's SRD wire format, version 1
-- (docs/wire-format.md, which this file follows field by field).
--
-- Use:  wireshark -X lua_script:srd.lua capture.pcapng     (or tshark, same option)
--       or copy it to a Lua plugin folder (`meson install` puts it in Wireshark's
--       global one; ~/.local/lib/wireshark/plugins/ works for one user).
--
-- It decodes every packet type (DATA, ACK, NACK, PROBE, RESET) and field: flags, PSN,
-- connection ids (incarnation and slot), message id / length / PSN, segment index and
-- offset, endpoints, tag, immediate data, each message of a packed DATA packet, the cumulative PSN and the SACK words (one to
-- eight) shown as ranges of PSNs, echoed timestamps, NACK and RESET reasons, the path
-- index, and the path entropy and sending worker carried in the UDP source port.  It
-- checks what the codec checks (lib/core/wire.c) and says which drop reason the daemon
-- would give a packet that fails.  Expert info for what one hunts: retransmissions (a PSN
-- seen twice on the same interface), NACKs, RESETs, and frames srdd's impairment stage
-- dropped (srdctl capture marks them with a pcapng comment).
--
-- Registered on UDP ports 9371..9386 (udp_port + worker, preferences "SRD") and as a
-- heuristic dissector on UDP.  Arithmetic only (no bit library), so it runs on Wireshark
-- builds with Lua 5.1 to 5.4.

local srd = Proto("srd", "Scalable Reliable Datagram (srd-dataplane)")

local TYPES = { [1] = "DATA", [2] = "ACK", [3] = "NACK", [4] = "PROBE", [5] = "RESET" }
-- the layout of each type, in bytes (DATA: without the immediate data of segment 0; ACK:
-- with one SACK word, 8 bytes more for each further word byte 3 counts)
local LAYOUT = { [1] = 48, [2] = 52, [3] = 32, [4] = 24, [5] = 20 }
local SACK_MORE_MAX = 7
-- a packed DATA packet (byte 3 counts its messages): its header, and each message's
-- sub-header before the message's bytes (docs/wire-format.md section 4b)
local PACK_LEN, PACK_SUB_LEN, PACK_MAX = 28, 24, 64
local NACK_REASONS = { [1] = "RNR (receiver not ready)", [2] = "TOO_BIG (message too large)",
                       [3] = "NO_EP (no such endpoint)" }
local RESET_REASONS = { [1] = "UNKNOWN_CONN", [2] = "TABLE_FULL", [3] = "IDLE_CLOSED",
                        [4] = "SETUP_COOKIE" }
-- flag bits (bit number, name) and the types that may carry each (docs/wire-format.md
-- section 3)
local FLAGS = {
    { 0, "SYN",     { [1] = true, [2] = true, [3] = true, [4] = true } },
    { 1, "ECE",     { [2] = true, [3] = true } },
    { 2, "REPLY",   { [4] = true } },
    { 3, "RETX",    { [1] = true } },
    { 4, "ACKREQ",  { [1] = true } },
    { 5, "ABANDON", { [1] = true } },
    { 6, "COOKIE",  { [1] = true } },
    { 7, "ORDERED", { [1] = true } },
}
local TWO32 = 4294967296

local f = srd.fields
f.version   = ProtoField.uint8("srd.version", "Version", base.DEC, nil, 0xf0)
f.type      = ProtoField.uint8("srd.type", "Type", base.DEC, TYPES, 0x0f)
f.flags     = ProtoField.uint8("srd.flags", "Flags", base.HEX)
f.flag_syn     = ProtoField.bool("srd.flags.syn", "SYN", 8, nil, 0x01)
f.flag_ece     = ProtoField.bool("srd.flags.ece", "ECE", 8, nil, 0x02)
f.flag_reply   = ProtoField.bool("srd.flags.reply", "REPLY", 8, nil, 0x04)
f.flag_retx    = ProtoField.bool("srd.flags.retx", "RETX", 8, nil, 0x08)
f.flag_ackreq  = ProtoField.bool("srd.flags.ackreq", "ACKREQ", 8, nil, 0x10)
f.flag_abandon = ProtoField.bool("srd.flags.abandon", "ABANDON", 8, nil, 0x20)
f.flag_cookie  = ProtoField.bool("srd.flags.cookie", "COOKIE", 8, nil, 0x40)
f.flag_ordered = ProtoField.bool("srd.flags.ordered", "ORDERED", 8, nil, 0x80)
f.path      = ProtoField.uint8("srd.path", "Path index", base.DEC)
f.reserved  = ProtoField.bytes("srd.reserved", "Reserved")
f.sack_more = ProtoField.uint8("srd.ack.sack_more", "Further SACK words", base.DEC)
f.dst_conn  = ProtoField.uint32("srd.dst_conn", "Destination connection id", base.HEX)
f.src_conn  = ProtoField.uint32("srd.src_conn", "Source connection id", base.HEX)
f.conn_inc  = ProtoField.uint32("srd.conn.incarnation", "Incarnation", base.HEX, nil, 0xffff0000)
f.conn_slot = ProtoField.uint32("srd.conn.slot", "Slot + 1", base.DEC, nil, 0x0000ffff)
f.cookie_id = ProtoField.uint32("srd.setup_cookie", "Set-up cookie", base.HEX)
f.psn       = ProtoField.uint32("srd.psn", "Packet sequence number", base.DEC)
-- carried by the UDP ports (docs/config.md, "Several workers")
f.entropy   = ProtoField.uint16("srd.entropy", "Path entropy (UDP source port)", base.DEC)
f.src_worker = ProtoField.uint8("srd.src_worker", "Sending worker (UDP source port)", base.DEC)
f.dst_worker = ProtoField.uint8("srd.dst_worker", "Receiving worker (UDP destination port)",
                                base.DEC)
-- DATA
f.tx_ts     = ProtoField.uint32("srd.tx_ts", "Transmit timestamp (ns mod 2^32)", base.DEC)
f.msg_id    = ProtoField.uint32("srd.data.msg_id", "Message id", base.DEC)
f.msg_len   = ProtoField.uint32("srd.data.msg_len", "Message length", base.DEC)
f.msg_psn   = ProtoField.uint32("srd.data.msg_psn", "Message PSN (segment 0)", base.DEC)
f.seg_size  = ProtoField.uint16("srd.data.seg_size", "Segment size", base.DEC)
f.src_ep    = ProtoField.uint16("srd.data.src_ep", "Source endpoint", base.DEC)
f.dst_ep    = ProtoField.uint16("srd.data.dst_ep", "Destination endpoint", base.DEC)
f.data_entropy = ProtoField.uint16("srd.data.entropy", "Entropy sent with (acks echo it)", base.DEC)
f.tag       = ProtoField.uint64("srd.data.tag", "Tag", base.HEX)
f.imm       = ProtoField.uint64("srd.data.imm", "Immediate data", base.HEX)
f.segment   = ProtoField.uint32("srd.data.segment", "Segment index", base.DEC)
f.segments  = ProtoField.uint32("srd.data.segments", "Segments in the message", base.DEC)
f.offset    = ProtoField.uint64("srd.data.offset", "Offset in the message", base.DEC)
f.payload   = ProtoField.bytes("srd.data.payload", "Payload")
f.payload_len = ProtoField.uint32("srd.data.payload_len", "Payload length", base.DEC)
f.packed    = ProtoField.uint8("srd.data.packed", "Messages packed", base.DEC)
f.pack_msg  = ProtoField.uint32("srd.data.pack_msg", "Packed message", base.DEC)
-- ACK
f.echo_ts   = ProtoField.uint32("srd.echo_ts", "Echoed timestamp", base.DEC)
f.cum_psn   = ProtoField.uint32("srd.cum_psn", "Cumulative PSN (every PSN before it received)",
                                base.DEC)
f.acked_psn = ProtoField.uint32("srd.ack.acked_psn", "Acknowledged PSN", base.DEC)
f.sack_base = ProtoField.uint32("srd.ack.sack_base", "SACK base", base.DEC)
f.credit    = ProtoField.uint32("srd.ack.credit", "Credit (PSNs beyond the cumulative PSN)",
                                base.DEC)
f.sack      = ProtoField.uint64("srd.ack.sack", "SACK bitmap (word 0)", base.HEX)
f.sack_word = ProtoField.uint64("srd.ack.sack_word", "SACK word", base.HEX)
f.sack_range = ProtoField.string("srd.ack.sack_range", "SACKed PSNs")
f.sack_count = ProtoField.uint32("srd.ack.sack_count", "PSNs SACKed", base.DEC)
f.ce_count  = ProtoField.uint16("srd.ack.ce_count", "CE count", base.DEC)
f.pkt_count = ProtoField.uint16("srd.ack.pkt_count", "Packet count", base.DEC)
f.ack_delay = ProtoField.uint32("srd.ack.ack_delay_ns", "Ack delay (ns)", base.DEC)
f.max_msg   = ProtoField.uint32("srd.ack.max_msg", "Largest accepted message", base.DEC)
-- NACK
f.nack_reason = ProtoField.uint8("srd.nack.reason", "Reason", base.DEC, NACK_REASONS)
f.retry_ns  = ProtoField.uint32("srd.nack.retry_ns", "Retry after (ns)", base.DEC)
-- PROBE
f.cookie    = ProtoField.uint32("srd.probe.cookie", "Cookie", base.HEX)
-- RESET
f.reset_reason = ProtoField.uint32("srd.reset.reason", "Reason", base.DEC, RESET_REASONS)
-- analysis
f.drop_reason = ProtoField.string("srd.invalid", "Would be dropped as")
f.retx_of   = ProtoField.framenum("srd.analysis.retransmission_of", "First sent in frame")
-- present only on a retransmission, as tcp.analysis.retransmission is
f.is_retx   = ProtoField.bool("srd.analysis.retransmission", "Retransmission (PSN seen before)")
f.copies    = ProtoField.uint32("srd.analysis.copies", "Copies of this PSN so far", base.DEC)
f.impair_drop = ProtoField.string("srd.impair_drop", "Dropped by srdd's impairment stage")

local ef = {
    retx = ProtoExpert.new("srd.expert.retransmission", "Retransmission",
                           expert.group.SEQUENCE, expert.severity.NOTE),
    nack = ProtoExpert.new("srd.expert.nack", "NACK", expert.group.SEQUENCE,
                           expert.severity.WARN),
    reset = ProtoExpert.new("srd.expert.reset", "RESET", expert.group.SEQUENCE,
                            expert.severity.WARN),
    setup = ProtoExpert.new("srd.expert.setup", "Connection set-up", expert.group.SEQUENCE,
                            expert.severity.CHAT),
    dropped = ProtoExpert.new("srd.expert.impair_drop", "Dropped by the impairment stage",
                              expert.group.SEQUENCE, expert.severity.WARN),
    invalid = ProtoExpert.new("srd.expert.invalid", "Invalid SRD packet",
                              expert.group.MALFORMED, expert.severity.ERROR),
    snapped = ProtoExpert.new("srd.expert.snapped", "Cut short by the capture's snap length",
                              expert.group.UNDECODED, expert.severity.NOTE),
}
srd.experts = { ef.retx, ef.nack, ef.reset, ef.setup, ef.dropped, ef.invalid, ef.snapped }

srd.prefs.udp_port = Pref.uint("UDP port", 9371, "srdd's udp_port (worker w listens on " ..
                               "udp_port + w)")
srd.prefs.workers = Pref.uint("Worker ports", 16, "How many ports from udp_port on are SRD's")

local frame_iface = Field.new("frame.interface_id")
local frame_comment = Field.new("frame.comment")
local udp_srcport = Field.new("udp.srcport")
local udp_dstport = Field.new("udp.dstport")

-- state of one pass over a file: PSNs seen (key -> first frame, copies) and what each
-- frame was found to be on the first pass (frame number -> {first, copies})
local seen, verdict = {}, {}
function srd.init()
    seen, verdict = {}, {}
end

-- ---- helpers ----

local function u32(tvb, off) return tvb(off, 4):uint() end

-- bit b (0..7) of byte v
local function bit_set(v, b) return math.floor(v / 2 ^ b) % 2 == 1 end

-- a PSN range as text, modulo 2^32
local function range_str(a, b)
    if a == b then return tostring(a) end
    return string.format("%d-%d", a, b)
end

-- The SACK bitmap, words[k] = {hi, lo} (bits 32..63 and 0..31 of word k, which covers PSNs
-- base + 64k ..), as ranges of PSNs, and how many PSNs it names.
local function sack_ranges(base_psn, words)
    local out, count, start = {}, 0, nil
    local nbits = 64 * #words
    for i = 0, nbits do
        local set = false
        if i < nbits then
            local w, b = words[math.floor(i / 64) + 1], i % 64
            if b < 32 then
                set = math.floor(w[2] / 2 ^ b) % 2 == 1
            else
                set = math.floor(w[1] / 2 ^ (b - 32)) % 2 == 1
            end
        end
        if set then
            count = count + 1
            if not start then start = i end
        elseif start then
            out[#out + 1] = range_str((base_psn + start) % TWO32, (base_psn + i - 1) % TWO32)
            start = nil
        end
    end
    return out, count
end

-- The length the codec requires before it looks further (docs/wire-format.md section 9,
-- check 4): DATA 56 for segment 0, an ACK 52 + 8 per further SACK word.
local function need_len(tvb, ptype, len)
    if ptype == 2 then
        local more = tvb(3, 1):uint()
        if more <= SACK_MORE_MAX then return LAYOUT[2] + 8 * more end
        return LAYOUT[2] -- a larger count is bad_header, checked next
    end
    if ptype == 1 and tvb(3, 1):uint() ~= 0 then return PACK_LEN end
    if ptype == 1 and len >= LAYOUT[1] and tvb:len() >= 32 and
       (u32(tvb, 12) - u32(tvb, 28)) % TWO32 == 0 then
        return 56
    end
    return LAYOUT[ptype]
end

-- Is this an SRD packet (what the heuristic asks, on ports that are not SRD's)?  The
-- codec's checks that need no state: version, type, reserved bytes, ids, the exact length
-- of the type (for DATA, the segment's), a known reason.
local function looks_like_srd(tvb)
    local len, caplen = tvb:reported_length_remaining(), tvb:len()
    if caplen < 16 or len < 16 then return false end
    local b0 = tvb(0, 1):uint()
    local ver, ptype = math.floor(b0 / 16), b0 % 16
    if ver ~= 1 or not TYPES[ptype] or u32(tvb, 8) == 0 then return false end
    local b3 = tvb(3, 1):uint()
    if ptype == 1 and b3 ~= 0 then
        -- packed: the messages end exactly at the end (the whole packet captured)
        if b3 == 1 or b3 > PACK_MAX or len < PACK_LEN or caplen < len or
           tvb(26, 2):uint() ~= 0 then return false end
        local at = PACK_LEN
        for _ = 1, b3 do
            if len - at < PACK_SUB_LEN then return false end
            at = at + PACK_SUB_LEN + u32(tvb, at + 4)
            if at > len then return false end
        end
        return at == len
    end
    if b3 ~= 0 and (ptype ~= 2 or b3 > SACK_MORE_MAX) then return false end
    if ptype ~= 1 then
        local want = need_len(tvb, ptype, len)
        if len ~= want or caplen < want then return false end
        if ptype == 3 then return NACK_REASONS[tvb(24, 1):uint()] ~= nil end
        if ptype == 5 then return RESET_REASONS[u32(tvb, 16)] ~= nil end
        if ptype == 2 then return u32(tvb, 48) ~= 0 and tvb(40, 2):uint() <= tvb(42, 2):uint() end
        return true
    end
    if len < LAYOUT[1] or caplen < 40 then return false end
    local msg_len, seg = u32(tvb, 24), tvb(32, 2):uint()
    local k = (u32(tvb, 12) - u32(tvb, 28)) % TWO32
    if msg_len == 0 then return k == 0 and len == 56 end
    if seg == 0 or k >= math.ceil(msg_len / seg) then return false end
    local hlen = (k == 0) and 56 or 48
    return len - hlen == math.min(seg, msg_len - k * seg)
end

-- A connection id with its incarnation and slot.
local function add_conn(tree, field, range, is_cookie)
    local item = tree:add(field, range)
    local v = range:uint()
    if is_cookie then
        item:append_text(" (set-up cookie)")
        item:add(f.cookie_id, range)
    elseif v ~= 0 then
        item:add(f.conn_inc, range)
        item:add(f.conn_slot, range)
    else
        item:append_text(" (not known yet)")
    end
end

-- The first check the codec would fail (lib/core/wire.c; docs/wire-format.md section 9), or
-- nil.  Only what the reported length and the captured bytes can tell.
local function common_check(tvb, ptype, flags, len)
    for _, fl in ipairs(FLAGS) do
        if bit_set(flags, fl[1]) and not fl[3][ptype] then
            return "bad_header", "flag " .. fl[2] .. " not allowed on " .. TYPES[ptype]
        end
    end
    if ptype == 2 then
        if tvb(3, 1):uint() > SACK_MORE_MAX then
            return "bad_header", "more than " .. SACK_MORE_MAX .. " further SACK words"
        end
    elseif ptype == 1 then
        local n = tvb(3, 1):uint()
        if n == 1 or n > PACK_MAX then
            return "bad_header", string.format("%d messages packed (2..%d)", n, PACK_MAX)
        end
    elseif tvb(3, 1):uint() ~= 0 then
        return "bad_header", "reserved byte 3 not 0"
    end
    if u32(tvb, 8) == 0 then return "bad_header", "src_conn 0" end
    local syn = bit_set(flags, 0)
    if u32(tvb, 4) == 0 and (not syn or ptype == 5) then
        return "bad_header", "dst_conn 0 without SYN"
    end
    if bit_set(flags, 6) and (not syn or u32(tvb, 4) == 0) then
        return "bad_header", "COOKIE without SYN or with dst_conn 0"
    end
    return nil
end

-- ---- the types ----

local function dissect_data(tvb, tree, len, info)
    local psn, msg_len, msg_psn = u32(tvb, 12), u32(tvb, 24), u32(tvb, 28)
    local seg_size = tvb(32, 2):uint()
    local k = (psn - msg_psn) % TWO32
    local n = 1
    if msg_len > 0 and seg_size > 0 then n = math.ceil(msg_len / seg_size) end
    tree:add(f.tx_ts, tvb(16, 4))
    tree:add(f.msg_id, tvb(20, 4))
    tree:add(f.msg_len, tvb(24, 4))
    tree:add(f.msg_psn, tvb(28, 4))
    tree:add(f.seg_size, tvb(32, 2))
    tree:add(f.src_ep, tvb(34, 2))
    tree:add(f.dst_ep, tvb(36, 2))
    tree:add(f.data_entropy, tvb(38, 2))
    tree:add(f.tag, tvb(40, 8))
    local hlen = 48
    local bad, why
    if seg_size == 0 and msg_len > 0 then
        bad, why = "bad_header", "segment size 0 with a non-empty message"
    elseif k >= n then
        bad, why = "bad_offset", string.format("segment %d of a %d-segment message", k, n)
    end
    if not bad then
        tree:add(f.segment, k):set_generated()
        tree:add(f.segments, n):set_generated()
        tree:add(f.offset, UInt64.new(k * seg_size % TWO32, math.floor(k * seg_size / TWO32)))
            :set_generated()
        if k == 0 then
            if len < 56 then
                return "truncated", "segment 0 shorter than 56 bytes", 48
            end
            if tvb:len() >= 56 then tree:add(f.imm, tvb(48, 8)) end
            hlen = 56
        end
        local want = 0
        if msg_len > 0 then want = math.min(seg_size, msg_len - k * seg_size) end
        if len - hlen ~= want then
            bad, why = "bad_length",
                       string.format("payload of %d bytes, the segment has %d", len - hlen, want)
        end
    end
    tree:add(f.payload_len, len - hlen):set_generated()
    if tvb:len() > hlen then tree:add(f.payload, tvb(hlen)) end
    info[#info + 1] = string.format("msg=%d seg=%d/%d len=%d", u32(tvb, 20), k, n, msg_len)
    return bad, why, hlen
end

-- A packed DATA packet: several whole messages under one PSN, each a sub-tree.
local function dissect_packed(tvb, tree, len, info)
    local n = tvb(3, 1):uint()
    tree:add(f.tx_ts, tvb(16, 4))
    tree:add(f.src_ep, tvb(20, 2))
    tree:add(f.dst_ep, tvb(22, 2))
    tree:add(f.data_entropy, tvb(24, 2))
    tree:add(f.reserved, tvb(26, 2))
    if tvb(26, 2):uint() ~= 0 then
        return "bad_header", "reserved bytes 26-27 not 0", PACK_LEN
    end
    local at, bytes = PACK_LEN, 0
    for i = 1, n do
        if len - at < PACK_SUB_LEN then
            return "truncated", string.format("message %d of %d: its sub-header is cut", i, n),
                   PACK_LEN
        end
        if tvb:len() < at + PACK_SUB_LEN then
            tree:add_proto_expert_info(ef.snapped, "the rest of the messages were not captured")
            break
        end
        local l = u32(tvb, at + 4)
        if at + PACK_SUB_LEN + l > len then
            return "bad_length", string.format("message %d of %d (%d bytes) runs past the end",
                                               i, n, l), PACK_LEN
        end
        local m = tree:add(f.pack_msg, i):set_generated()
        m:append_text(string.format(": id %d, %d bytes", u32(tvb, at), l))
        m:add(f.msg_id, tvb(at, 4))
        m:add(f.msg_len, tvb(at + 4, 4))
        m:add(f.tag, tvb(at + 8, 8))
        m:add(f.imm, tvb(at + 16, 8))
        local cap = math.min(l, tvb:len() - at - PACK_SUB_LEN)
        if cap > 0 then m:add(f.payload, tvb(at + PACK_SUB_LEN, cap)) end
        at, bytes = at + PACK_SUB_LEN + l, bytes + l
    end
    if at < len and tvb:len() >= len then
        return "bad_length", string.format("%d bytes after the last message", len - at),
               PACK_LEN
    end
    tree:add(f.payload_len, bytes):set_generated()
    info[#info + 1] = string.format("packed msgs=%d bytes=%d", n, bytes)
    return nil, nil, PACK_LEN
end

local function dissect_ack(tvb, tree, info)
    local base_psn, more = u32(tvb, 24), tvb(3, 1):uint()
    tree:add(f.echo_ts, tvb(16, 4))
    tree:add(f.acked_psn, tvb(20, 4))
    tree:add(f.sack_base, tvb(24, 4))
    tree:add(f.credit, tvb(28, 4))
    local sitem = tree:add(f.sack, tvb(32, 8))
    tree:add(f.ce_count, tvb(40, 2))
    tree:add(f.pkt_count, tvb(42, 2))
    tree:add(f.ack_delay, tvb(44, 4))
    tree:add(f.max_msg, tvb(48, 4))
    local words = { { u32(tvb, 32), u32(tvb, 36) } }
    for k = 1, more do
        local off = 52 + 8 * (k - 1)
        tree:add(f.sack_word, tvb(off, 8)):append_text(string.format(
            " (word %d: PSNs %d..)", k, (base_psn + 64 * k) % TWO32))
        words[#words + 1] = { u32(tvb, off), u32(tvb, off + 4) }
    end
    local ranges, count = sack_ranges(base_psn, words)
    sitem:add(f.sack_count, count):set_generated()
    for _, r in ipairs(ranges) do sitem:add(f.sack_range, r):set_generated() end
    info[#info + 1] = string.format("cum=%d acked=%d", u32(tvb, 12), u32(tvb, 20))
    if #ranges > 0 then info[#info + 1] = "sack=" .. table.concat(ranges, ",") end
    if tvb(40, 2):uint() > tvb(42, 2):uint() then
        return "bad_header", "ce_count above pkt_count"
    end
    if u32(tvb, 48) == 0 then return "bad_header", "max_msg 0" end
    return nil
end

local function dissect_nack(tvb, tree, info, pinfo)
    local reason = tvb(24, 1):uint()
    tree:add(f.echo_ts, tvb(16, 4))
    tree:add(f.cum_psn, tvb(20, 4))
    local item = tree:add(f.nack_reason, tvb(24, 1))
    tree:add(f.reserved, tvb(25, 3))
    tree:add(f.retry_ns, tvb(28, 4))
    local name = NACK_REASONS[reason] or ("reason " .. reason)
    info[#info + 1] = name
    item:add_proto_expert_info(ef.nack, "NACK " .. name .. " of PSN " .. u32(tvb, 12))
    if not NACK_REASONS[reason] then return "bad_header", "unknown NACK reason" end
    if tvb(25, 1):uint() ~= 0 or tvb(26, 2):uint() ~= 0 then
        return "bad_header", "reserved bytes 25-27 not 0"
    end
    return nil
end

local function dissect_probe(tvb, tree, info)
    tree:add(f.tx_ts, tvb(16, 4))
    tree:add(f.cookie, tvb(20, 4))
    if u32(tvb, 20) == 0xffff0000 then info[#info + 1] = "set-up challenge" end
    return nil
end

local function dissect_reset(tvb, tree, info)
    local reason = u32(tvb, 16)
    local item = tree:add(f.reset_reason, tvb(16, 4))
    local name = RESET_REASONS[reason] or ("reason " .. reason)
    info[#info + 1] = name
    item:add_proto_expert_info(ef.reset, "RESET " .. name .. " of connection " ..
                               string.format("0x%08x", u32(tvb, 4)))
    if not RESET_REASONS[reason] then return "bad_header", "unknown RESET reason" end
    return nil
end

-- ---- retransmissions ----

-- First pass: count the copies of a DATA PSN seen on this interface (a frame captured both
-- as sent on one port and received on the other is not a retransmission).
local function track_psn(pinfo, tvb)
    local fi = frame_iface()
    local key = string.format("%d|%s|%s|%d|%d", fi and fi.value or 0, tostring(pinfo.src),
                              tostring(pinfo.dst), u32(tvb, 8), u32(tvb, 12))
    if not pinfo.visited then
        local s = seen[key]
        if s then
            s.copies = s.copies + 1
        else
            s = { first = pinfo.number, copies = 1 }
            seen[key] = s
        end
        verdict[pinfo.number] = { first = s.first, copies = s.copies }
    end
    return verdict[pinfo.number]
end

-- ---- the dissector ----

function srd.dissector(tvb, pinfo, tree)
    local len = tvb:reported_length_remaining()
    if tvb:len() < 16 then return 0 end
    pinfo.cols.protocol = "SRD"
    local b0, flags = tvb(0, 1):uint(), tvb(1, 1):uint()
    local ver, ptype = math.floor(b0 / 16), b0 % 16
    local subtree = tree:add(srd, tvb(), "Scalable Reliable Datagram")
    local info = {}

    subtree:add(f.version, tvb(0, 1))
    subtree:add(f.type, tvb(0, 1))
    local fitem = subtree:add(f.flags, tvb(1, 1))
    local names = {}
    for _, fl in ipairs(FLAGS) do
        if bit_set(flags, fl[1]) then names[#names + 1] = fl[2] end
    end
    fitem:add(f.flag_syn, tvb(1, 1))
    fitem:add(f.flag_ece, tvb(1, 1))
    fitem:add(f.flag_reply, tvb(1, 1))
    fitem:add(f.flag_retx, tvb(1, 1))
    fitem:add(f.flag_ackreq, tvb(1, 1))
    fitem:add(f.flag_abandon, tvb(1, 1))
    fitem:add(f.flag_cookie, tvb(1, 1))
    fitem:add(f.flag_ordered, tvb(1, 1))
    if #names > 0 then fitem:append_text(" (" .. table.concat(names, ", ") .. ")") end
    subtree:add(f.path, tvb(2, 1))
    if ptype == 2 then
        subtree:add(f.sack_more, tvb(3, 1))
    elseif ptype == 1 and tvb(3, 1):uint() ~= 0 then
        subtree:add(f.packed, tvb(3, 1))
    else
        subtree:add(f.reserved, tvb(3, 1))
    end
    add_conn(subtree, f.dst_conn, tvb(4, 4), bit_set(flags, 6))
    add_conn(subtree, f.src_conn, tvb(8, 4), false)
    local psn_item = subtree:add(f.psn, tvb(12, 4))
    local sport, dport = udp_srcport(), udp_dstport()
    if sport and sport.value >= 0xc000 then
        subtree:add(f.entropy, sport.value % 1024):set_generated()
        subtree:add(f.src_worker, math.floor(sport.value / 1024) % 16):set_generated()
    end
    if dport and dport.value >= srd.prefs.udp_port and
       dport.value < srd.prefs.udp_port + srd.prefs.workers then
        subtree:add(f.dst_worker, dport.value - srd.prefs.udp_port):set_generated()
    end

    local bad, why, need
    local tname = TYPES[ptype]
    if ver ~= 1 then
        bad, why = "bad_version", "version " .. ver
    elseif not tname then
        bad, why = "bad_type", "type " .. ptype
    else
        need = need_len(tvb, ptype, len)
        if len < need then
            bad, why = "truncated", string.format("%d bytes, this %s needs %d", len, tname, need)
        end
    end
    if not bad then
        bad, why = common_check(tvb, ptype, flags, len)
    end
    if not bad and tvb:len() < need then
        -- the capture kept less than the header: say so rather than fail
        subtree:add_proto_expert_info(ef.snapped, string.format(
            "only %d of %d bytes captured", tvb:len(), len))
        tname = tname .. " (cut short)"
    elseif not bad then
        if ptype == 1 then
            if tvb(3, 1):uint() ~= 0 then
                psn_item:append_text(" (every message packed here)")
                bad, why = dissect_packed(tvb, subtree, len, info)
            else
                psn_item:append_text(" (this segment)")
                bad, why = dissect_data(tvb, subtree, len, info)
            end
            if bit_set(flags, 0) then
                subtree:add_proto_expert_info(ef.setup, "Set-up: the sender does not know " ..
                                              "the receiver's connection id yet")
            end
            local v = track_psn(pinfo, tvb)
            subtree:add(f.copies, v.copies):set_generated()
            if v.copies > 1 then
                subtree:add(f.is_retx, true):set_generated()
                subtree:add(f.retx_of, v.first):set_generated()
                subtree:add_proto_expert_info(ef.retx, string.format(
                    "Retransmission of PSN %d (copy %d, first in frame %d)", u32(tvb, 12),
                    v.copies, v.first))
                info[#info + 1] = "[retransmission]"
            end
        elseif ptype == 2 then
            psn_item:append_text(" (cumulative: every PSN before it received)")
            subtree:add(f.cum_psn, tvb(12, 4)):set_generated()
            bad, why = dissect_ack(tvb, subtree, info)
        elseif ptype == 3 then
            psn_item:append_text(" (the refused PSN)")
            bad, why = dissect_nack(tvb, subtree, info, pinfo)
        elseif ptype == 4 then
            psn_item:append_text(" (probe sequence number)")
            bad, why = dissect_probe(tvb, subtree, info)
        else
            psn_item:append_text(" (IDLE_CLOSED: the closed connection's cumulative PSN)")
            bad, why = dissect_reset(tvb, subtree, info)
        end
        if not bad and ptype ~= 1 and len > need then
            bad, why = "bad_length", string.format("%d bytes, this %s has %d", len, TYPES[ptype],
                                                   need)
        end
    end
    if bad then
        subtree:add(f.drop_reason, bad):set_generated()
        subtree:add_proto_expert_info(ef.invalid, "srdd would drop this packet as " .. bad ..
                                      ": " .. why)
        info[#info + 1] = "[invalid: " .. bad .. "]"
    end

    local comment = frame_comment()
    if comment and tostring(comment.value):find("^srd: dropped") then
        local text = tostring(comment.value):gsub("^srd: dropped by the impairment stage ?", "")
        subtree:add(f.impair_drop, text):set_generated()
        subtree:add_proto_expert_info(ef.dropped, "Dropped by srdd's impairment stage " .. text)
        info[#info + 1] = "[dropped by impairment " .. text .. "]"
    end

    subtree:append_text(string.format(", %s, PSN %d", tname or ("type " .. ptype), u32(tvb, 12)))
    local head = string.format("%s psn=%d path=%d", tname or ("type " .. ptype), u32(tvb, 12),
                               tvb(2, 1):uint())
    if #names > 0 then head = head .. " [" .. table.concat(names, ",") .. "]" end
    table.insert(info, 1, head)
    pinfo.cols.info:set(table.concat(info, " "))
    return len
end

-- ---- registration ----

local registered = {}
local function register_ports()
    local t = DissectorTable.get("udp.port")
    for _, p in ipairs(registered) do t:remove(p, srd) end
    registered = {}
    for p = srd.prefs.udp_port, math.min(srd.prefs.udp_port + srd.prefs.workers - 1, 65535) do
        t:add(p, srd)
        registered[#registered + 1] = p
    end
end

function srd.prefs_changed()
    register_ports()
end

register_ports()
srd:register_heuristic("udp", function(tvb, pinfo, tree)
    if not looks_like_srd(tvb) then return false end
    srd.dissector(tvb, pinfo, tree)
    return true
end)
