#!/usr/bin/env python3
"""Independent trace generator for the TCP handoff protocol, written from the
specification text alone (handoff-protocol.md, §2 lifecycle, §3 control
frames, §4 rewrites, §5 checks, §7 vantage points) and *not* from the
project's TypeScript: its own MessagePack encoder, its own rewrite code, every
checksum computed from scratch. It exists so that an engine bug cannot hide
behind traces built by the same engine.

    python3 gen.py OUTDIR        writes traces + OUTDIR/manifest.json

The manifest lists every trace (one or more files), whether it is clean, the
one check id a fault trace must raise (with the frames that carry the fault),
and per clean trace the connections `handoff sessions` must classify.

Python 3 standard library only.
"""
import ipaddress
import json
import os
import random
import struct
import sys

MASK = 0xFFFFFFFF
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
EPOCH = 1772323200  # 2026-03-01T00:00:00Z: capture clock origin
LT_ETHER, LT_RAW = 1, 101

# --------------------------------------------------------------- checksums


def fold(data, start=0):
    """16-bit one's-complement sum (folded, not complemented)."""
    if len(data) % 2:
        data = data + b'\0'
    s = start + sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def inet_csum(data, start=0):
    return (~fold(data, start)) & 0xFFFF


def ipb(a):
    return ipaddress.ip_address(a).packed


def ipstr(a):
    # RFC 5952 text form (Python's compressed form is RFC 5952's)
    return str(ipaddress.ip_address(a))


def is6(a):
    return ipaddress.ip_address(a).version == 6

# --------------------------------------------------------------- TCP options


def enc_opts(opts):
    out = b''
    for o in opts:
        k = o[0]
        if k == 'mss':
            out += struct.pack('!BBH', 2, 4, o[1])
        elif k == 'ws':
            out += struct.pack('!BBB', 3, 3, o[1])
        elif k == 'sackok':
            out += b'\x04\x02'
        elif k == 'ts':
            out += struct.pack('!BBII', 8, 10, o[1] & MASK, o[2] & MASK)
        elif k == 'sack':
            out += struct.pack('!BB', 5, 2 + 8 * len(o[1]))
            for l, r in o[1]:
                out += struct.pack('!II', l & MASK, r & MASK)
        elif k == 'nop':
            out += b'\x01'
        elif k == 'eol':
            out += b'\x00'
        else:
            raise ValueError(k)
    while len(out) % 4:
        out += b'\x00'
    return out


def opt_get(opts, k):
    for o in opts:
        if o[0] == k:
            return o
    return None


def opt_set(opts, k, new):
    return [new if o[0] == k else o for o in opts]

# --------------------------------------------------------------- segments


class Seg:
    """One TCP segment (or UDP datagram when udp=True) as fields; bytes are
    produced on demand with checksums computed from scratch."""

    def __init__(self, src, dst, sport, dport, seq=0, ack=0, flags=0, win=0,
                 opts=(), payload=b'', ipid=0, ttl=64, tos=0, udp=False, flow=0):
        self.src, self.dst, self.sport, self.dport = src, dst, sport, dport
        self.seq, self.ack, self.flags, self.win = seq & MASK, ack & MASK, flags, win
        self.opts = list(opts)
        self.payload = payload
        self.ipid, self.ttl, self.tos, self.udp = ipid, ttl, tos, udp
        self.flow = flow
        self.ip_csum = 'ok'   # ok | bad
        self.l4_csum = 'ok'   # ok | bad | partial

    def copy(self):
        c = Seg(self.src, self.dst, self.sport, self.dport, self.seq, self.ack,
                self.flags, self.win, self.opts, self.payload, self.ipid, self.ttl,
                self.tos, self.udp, self.flow)
        c.ip_csum, c.l4_csum = self.ip_csum, self.l4_csum
        return c

    def pseudo(self, l4len):
        proto = 17 if self.udp else 6
        if is6(self.src):
            return ipb(self.src) + ipb(self.dst) + struct.pack('!IxxxB', l4len, proto)
        return ipb(self.src) + ipb(self.dst) + struct.pack('!xBH', proto, l4len)

    def l4(self):
        if self.udp:
            n = 8 + len(self.payload)
            h = struct.pack('!HHHH', self.sport, self.dport, n, 0) + self.payload
            c = inet_csum(self.pseudo(n) + h) or 0xFFFF
        else:
            o = enc_opts(self.opts)
            off = (20 + len(o)) // 4
            h = struct.pack('!HHIIBBHHH', self.sport, self.dport, self.seq, self.ack,
                            off << 4, self.flags, self.win, 0, 0) + o + self.payload
            n = len(h)
            c = inet_csum(self.pseudo(n) + h)
        if self.l4_csum == 'partial':
            # what a sender with checksum offload hands its NIC: the folded
            # pseudo-header sum, not complemented (Linux CHECKSUM_PARTIAL)
            c = fold(self.pseudo(len(h)))
        elif self.l4_csum == 'bad':
            c = (c + 0x1111) & 0xFFFF
        at = 6 if self.udp else 16
        return h[:at] + struct.pack('!H', c) + h[at + 2:]

    def ip(self):
        body = self.l4()
        proto = 17 if self.udp else 6
        if is6(self.src):
            return struct.pack('!IHBB', (6 << 28) | (self.tos << 20) | self.flow, len(body), proto,
                               self.ttl) + ipb(self.src) + ipb(self.dst) + body
        h = struct.pack('!BBHHHBBH', 0x45, self.tos, 20 + len(body), self.ipid, 0x4000,
                        self.ttl, proto, 0) + ipb(self.src) + ipb(self.dst)
        c = inet_csum(h)
        if self.ip_csum == 'bad':
            c = (c ^ 0x00F0) & 0xFFFF
        return h[:10] + struct.pack('!H', c) + h[12:] + body

    def ts(self):
        o = opt_get(self.opts, 'ts')
        return (o[1], o[2]) if o else None

# --------------------------------------------------------------- MessagePack


class MP:
    """A minimal MessagePack encoder with the legal variants an outside
    implementation may choose: wider ints than needed, str8 for short
    strings, map16 for small maps."""

    def __init__(self, wide=0, str8=False, map16=False, big=False):
        self.wide, self.str8, self.map16, self.big = wide, str8, map16, big

    def enc(self, v):
        if v is None:
            return b'\xc0'
        if v is True:
            return b'\xc3'
        if v is False:
            return b'\xc2'
        if isinstance(v, int):
            assert v >= 0
            if self.wide == 1 and v < 256:
                return b'\xcc' + bytes([v])
            if self.wide == 2 and v < 65536:
                return b'\xcd' + struct.pack('!H', v)
            if self.wide == 3 and v < 2 ** 32:
                return b'\xce' + struct.pack('!I', v)
            if self.wide == 4:
                return b'\xcf' + struct.pack('!Q', v)
            if v < 128:
                return bytes([v])
            if v < 256:
                return b'\xcc' + bytes([v])
            if v < 65536:
                return b'\xcd' + struct.pack('!H', v)
            if v < 2 ** 32:
                return b'\xce' + struct.pack('!I', v)
            return b'\xcf' + struct.pack('!Q', v)
        if isinstance(v, str):
            b = v.encode()
            if self.big:
                return b'\xda' + struct.pack('!H', len(b)) + b
            if len(b) < 32 and not self.str8:
                return bytes([0xA0 | len(b)]) + b
            if len(b) < 256:
                return b'\xd9' + bytes([len(b)]) + b
            return b'\xda' + struct.pack('!H', len(b)) + b
        if isinstance(v, (bytes, bytearray)):
            if self.big:
                return b'\xc6' + struct.pack('!I', len(v)) + bytes(v)
            if len(v) < 256:
                return b'\xc4' + bytes([len(v)]) + bytes(v)
            return b'\xc5' + struct.pack('!H', len(v)) + bytes(v)
        if isinstance(v, list):
            h = bytes([0x90 | len(v)]) if len(v) < 16 and not self.big else b'\xdc' + struct.pack('!H', len(v))
            return h + b''.join(self.enc(x) for x in v)
        if isinstance(v, dict):
            return self.enc_map(list(v.items()))
        raise TypeError(type(v))

    def enc_map(self, items):
        if self.big:
            h = b'\xdf' + struct.pack('!I', len(items))
        elif len(items) < 16 and not self.map16:
            h = bytes([0x80 | len(items)])
        else:
            h = b'\xde' + struct.pack('!H', len(items))
        return h + b''.join(self.enc(k) + self.enc(v) for k, v in items)

# --------------------------------------------------------------- recording


class Recorder:
    """Every packet seen at every vantage point: (view, time, bytes, ...).
    Views: 'client', 'lan', 'ctl', '<node>-inside'."""

    def __init__(self):
        self.frames = []
        self.n = 0

    def add(self, view, t, seg, smac=None, dmac=None, tag=None, outbound=False):
        self.n += 1
        self.frames.append(dict(view=view, t=t, order=self.n, ip=seg.ip(), v6=is6(seg.src),
                                smac=smac, dmac=dmac, tag=tag, outbound=outbound))


def ether(f):
    et = 0x86DD if f['v6'] else 0x0800
    return macb(f['dmac']) + macb(f['smac']) + struct.pack('!H', et) + f['ip']


def macb(m):
    return bytes(int(x, 16) for x in m.split(':'))

# --------------------------------------------------------------- TCP endpoint


class End:
    """One TCP endpoint's numbers: enough state to give every segment the
    seq, ack, window and timestamps a real stack would put there."""

    def __init__(self, addr, port, isn, mss=1460, ws=None, sack=True, ts=True,
                 ts_off=0, buf=65160, layout='linux'):
        self.addr, self.port = addr, port
        self.isn = isn & MASK
        self.snd_nxt = isn & MASK
        self.rcv_nxt = 0
        self.mss, self.ws, self.sack, self.ts = mss, ws, sack, ts
        self.ts_off = ts_off
        self.ts_recent = 0
        self.buf = buf
        self.layout = layout
        self.scale_on = False   # both SYNs carried WS
        self.peer_ts = False
        self.ipid = random.randint(1, 60000)
        self.ooo = []           # out-of-order (l, r) blocks held
        self.tos, self.ttl = 0, 64
        # Linux labels IPv6 flows (auto flow labels): the rewrite keeps them
        self.flow = random.getrandbits(20) if is6(addr) else 0

    def tsval(self, t):
        return (self.ts_off + int(t * 1000)) & MASK

    def win(self):
        if self.scale_on:
            return min(0xFFFF, self.buf >> (self.ws or 0))
        return min(0xFFFF, self.buf)

    def syn_opts(self, t, ecr):
        o = []
        if self.layout == 'windows':
            o.append(('mss', self.mss))
            if self.ws is not None:
                o += [('nop',), ('ws', self.ws)]
            if self.sack:
                o += [('nop',), ('nop',), ('sackok',)]
            if self.ts:
                o += [('nop',), ('nop',), ('ts', self.tsval(t), ecr)]
            return o
        o.append(('mss', self.mss))
        if self.sack and self.ts:
            o += [('sackok',), ('ts', self.tsval(t), ecr)]
        elif self.sack:
            o += [('nop',), ('nop',), ('sackok',)]
        elif self.ts:
            o += [('nop',), ('nop',), ('ts', self.tsval(t), ecr)]
        if self.ws is not None:
            o += [('nop',), ('ws', self.ws)]
        return o

    def seg_to(self, peer_addr, peer_port, t, flags, payload=b'', sack=None, seq=None):
        o = []
        if self.ts and self.peer_ts:
            o += [('nop',), ('nop',), ('ts', self.tsval(t), self.ts_recent)]
        if sack:
            o += [('nop',), ('nop',), ('sack', sack)]
        self.ipid = (self.ipid + 1) & 0xFFFF
        s = Seg(self.addr, peer_addr, self.port, peer_port,
                self.snd_nxt if seq is None else seq,
                self.rcv_nxt if flags & ACK else 0, flags, self.win(), o, payload,
                ipid=0 if is6(self.addr) else self.ipid, ttl=self.ttl, tos=self.tos, flow=self.flow)
        if seq is None:
            self.snd_nxt = (self.snd_nxt + len(payload) + (1 if flags & (SYN | FIN) else 0)) & MASK
        return s

    def receive(self, seg):
        """Take a segment in: advance rcv_nxt over in-order data (and what
        was held out of order), remember the peer's TSval. Returns True when
        the segment was out of order (a gap before it)."""
        tsv = seg.ts()
        if tsv and self.ts:
            self.ts_recent = tsv[0]
        n = len(seg.payload) + (1 if seg.flags & (SYN | FIN) else 0)
        if seg.flags & SYN:
            self.rcv_nxt = (seg.seq + 1) & MASK
            return False
        if n == 0:
            return False
        d = (seg.seq - self.rcv_nxt) & MASK
        if d == 0:
            self.rcv_nxt = (self.rcv_nxt + n) & MASK
            changed = True
            while changed:
                changed = False
                for b in list(self.ooo):
                    if (b[0] - self.rcv_nxt) & MASK == 0 or ser_le(b[0], self.rcv_nxt):
                        if ser_lt(self.rcv_nxt, b[1]):
                            self.rcv_nxt = b[1]
                        self.ooo.remove(b)
                        changed = True
            return False
        if d < 0x80000000:
            self.ooo.append((seg.seq, (seg.seq + n) & MASK))
            return True
        return False   # old duplicate

    def sack_blocks(self):
        if not self.ooo:
            return None
        bl = sorted(self.ooo, key=lambda b: (b[0] - self.rcv_nxt) & MASK)
        merged = [list(bl[0])]
        for l, r in bl[1:]:
            if ser_le(l, merged[-1][1]):
                if ser_lt(merged[-1][1], r):
                    merged[-1][1] = r
            else:
                merged.append([l, r])
        return [tuple(m) for m in merged][:3]


def ser_lt(a, b):
    return a != b and ((b - a) & MASK) < 0x80000000


def ser_le(a, b):
    return a == b or ser_lt(a, b)

# --------------------------------------------------------------- §4 rewrites


class XState:
    """Translation state of one handed-off connection, spec §4."""

    def __init__(self, fiss, biss, fts, bts, wsF, wsB, vip, baddr, bmac):
        self.delta = (biss - fiss) & MASK
        self.tau = (bts - fts) & MASK if fts is not None and bts is not None else None
        self.wsF, self.wsB = wsF or 0, wsB or 0
        self.vip, self.baddr, self.bmac = vip, baddr, bmac


def fwd_rewrite(seg, x):
    s = seg.copy()
    s.dst = x.baddr
    if s.flags & ACK:
        s.ack = (s.ack + x.delta) & MASK
    no = []
    for o in s.opts:
        if o[0] == 'sack':
            o = ('sack', [((l + x.delta) & MASK, (r + x.delta) & MASK) for l, r in o[1]])
        elif o[0] == 'ts' and o[2] != 0 and x.tau is not None:
            o = ('ts', o[1], (o[2] + x.tau) & MASK)
        no.append(o)
    s.opts = no
    return s


def ret_rewrite(seg, x):
    s = seg.copy()
    s.raw_win = seg.win
    s.src = x.vip
    s.seq = (s.seq - x.delta) & MASK
    if x.tau is not None:
        s.opts = [('ts', (o[1] - x.tau) & MASK, o[2]) if o[0] == 'ts' else o for o in s.opts]
    if x.wsB != x.wsF:
        s.win = min(0xFFFF, (s.win << x.wsB) >> x.wsF)
    return s

def zero_csums(seg, rewrite):
    """Chooses seg's IP ID and window (fields §4 leaves alone; the window
    only while wsB = wsF) so that rewrite(seg) comes out with an IPv4 header
    checksum and a TCP checksum of exactly 0x0000 — what a full computation
    gives for a sum of 0xFFFF, where RFC 1141's update leaves 0xFFFF."""
    r = rewrite(seg).ip()
    hl = 0 if is6(seg.src) else (r[0] & 0x0F) * 4
    l4 = 40 if is6(seg.src) else hl
    if hl:
        seg.ipid = (seg.ipid + struct.unpack('!H', r[10:12])[0]) % 0xFFFF
    seg.win = (seg.win + struct.unpack('!H', rewrite(seg).ip()[l4 + 16:l4 + 18])[0]) % 0xFFFF
    r = rewrite(seg).ip()
    assert (not hl or r[10:12] == b'\0\0') and r[l4 + 16:l4 + 18] == b'\0\0', 'checksums of 0x0000'


# --------------------------------------------------------------- cluster


class Node:
    def __init__(self, name, addr, mac, addr6=None):
        self.name, self.addr, self.mac, self.addr6 = name, addr, mac, addr6
        self.hid_n = 0

    def svc(self, v6):
        return self.addr6 if v6 else self.addr


class Channel:
    """One persistent control connection between two nodes (§1, §3)."""

    def __init__(self, cl, a, b, t0, mp=None, ctl_port=7070):
        self.cl, self.a, self.b, self.t0 = cl, a, b, t0   # a connects to b:7070
        self.msgs = []   # (t, sender Node, dict items list, mp, segmode, tag)
        self.mp = mp or MP()
        self.port = ctl_port
        self.sport = 40000 + len(cl.channels) * 7

    def send(self, t, sender, items, mp=None, segmode=None, tag=None, raw=None, bad=None, dup=False):
        self.msgs.append(dict(t=t, sender=sender, items=items, mp=mp or self.mp,
                              segmode=segmode, tag=tag, raw=raw, bad=bad, dup=dup))

    def build(self):
        cl = self.cl
        v6 = cl.ctl6
        ea = End(self.a.svc(v6), self.sport, random.getrandbits(32), ws=7, ts_off=random.getrandbits(32))
        eb = End(self.b.svc(v6), self.port, random.getrandbits(32), ws=7, ts_off=random.getrandbits(32))
        t = self.t0

        def out(src, dst, seg, t, tag=None, deliver=True):
            for view in ('ctl', 'lan-ctl'):
                cl.rec.add(view, t, seg, src.mac, dst.mac, tag)
            dst_end = eb if src is self.a else ea
            if deliver:
                dst_end.receive(seg)

        s = ea.seg_to(eb.addr, eb.port, t, SYN)
        s.opts = ea.syn_opts(t, 0)
        out(self.a, self.b, s, t)
        eb.receive(s)
        t += 0.0001
        s = eb.seg_to(ea.addr, ea.port, t, SYN | ACK)
        s.opts = eb.syn_opts(t, eb.ts_recent)
        ea.scale_on = eb.scale_on = True
        ea.peer_ts = eb.peer_ts = True
        out(self.b, self.a, s, t)
        t += 0.0001
        out(self.a, self.b, ea.seg_to(eb.addr, eb.port, t, ACK), t)
        hello = lambda n: [('v', 1), ('t', 'hello'), ('node', n.name), ('at', 0),
                           ('addr', ipstr(n.svc(v6))), ('mac', n.mac)]
        self.msgs.insert(0, dict(t=t + 0.0001, sender=self.a, items=hello(self.a), mp=self.mp, segmode=None, tag=None, raw=None))
        self.msgs.insert(1, dict(t=t + 0.0002, sender=self.b, items=hello(self.b), mp=self.mp, segmode=None, tag=None, raw=None))
        # a frame to be coalesced goes out in one segment with a ping its
        # sender writes 50 µs later (never held longer: the peer acts on it)
        for m in [m for m in self.msgs if m['segmode'] == 'join-next']:
            self.msgs.append(dict(t=m['t'] + 0.00005, sender=m['sender'], items=msg('ping', m['sender'], n=77),
                                  mp=self.mp, segmode=None, tag=None, raw=None))
        self.msgs.sort(key=lambda m: m['t'])
        pend = {self.a: [], self.b: []}   # coalesced frames waiting for the next one
        for m in self.msgs:
            skew = cl.at_skew.get(m['sender'].name, 0.0)
            items = m['items'] and [(k, (EPOCH * 1000000 + int((m['t'] + skew) * 1e6)) if k == 'at' and v == 0 else v)
                                    for k, v in m['items']]
            if m['raw'] is not None:
                body = m['raw']
                frame = body if m['segmode'] == 'rawframe' else struct.pack('!I', len(body)) + body
            else:
                body = m['mp'].enc_map(items)
                frame = struct.pack('!I', len(body)) + body
            src = m['sender']
            dst = self.b if src is self.a else self.a
            se, de = (ea, eb) if src is self.a else (eb, ea)
            tt = max(m['t'], t + 0.00001)
            data = b''.join(pend[src]) + frame
            pend[src] = []
            if m['segmode'] == 'join-next':
                pend[src].append(frame)
                continue
            if m['segmode'] == 'split':
                cuts = [2, len(data) // 2, len(data)]   # inside the length prefix, mid-body
            else:
                cuts = list(range(1448, len(data), 1448)) + [len(data)]
            prev = 0
            for c in cuts:
                chunk = data[prev:c]
                prev = c
                if not chunk:
                    continue
                seg = se.seg_to(de.addr, de.port, tt, ACK | PSH, chunk)
                if m.get('bad'):
                    # a corrupted copy the receiver drops; the sender's RTO resends it
                    bad = seg.copy()
                    if m['bad'] == 'ip':
                        bad.ip_csum = 'bad'
                    else:
                        bad.l4_csum = 'bad'
                    out(src, dst, bad, tt, m['tag'], deliver=False)
                    tt += 0.0002
                    seg = se.seg_to(de.addr, de.port, tt, ACK | PSH, chunk, seq=seg.seq)
                    out(src, dst, seg, tt, None)
                else:
                    out(src, dst, seg, tt, m['tag'])
                    if m.get('dup'):
                        # spurious retransmission, same bytes: must not decode twice
                        tt += 0.0002
                        out(src, dst, se.seg_to(de.addr, de.port, tt, ACK | PSH, chunk, seq=seg.seq), tt, None, deliver=False)
                tt += 0.00002
            # the receiver acknowledges
            tt += 0.00003
            out(dst, src, de.seg_to(se.addr, se.port, tt, ACK), tt)
            t = tt


class Cluster:
    def __init__(self, name, ctl6=False):
        self.name = name
        self.nodes = {}
        self.channels = {}
        self.rec = Recorder()
        self.ctl6 = ctl6
        self.expect_sessions = []
        self.client_mac = '02:c1:00:00:00:01'
        self.at_skew = {}   # node name -> seconds its clock (the 'at' key) is off
        self.router_mac = '02:c1:00:00:00:fe'

    def node(self, name, addr, mac, addr6=None):
        n = Node(name, addr, mac, addr6)
        self.nodes[name] = n
        return n

    def channel(self, a, b, t0=0.0, **kw):
        key = frozenset((a.name, b.name))
        if key not in self.channels:
            self.channels[key] = Channel(self, a, b, t0, **kw)
        return self.channels[key]

    def finish(self):
        for ch in self.channels.values():
            ch.build()


def msg(t, node, **kw):
    items = [('v', 1), ('t', t), ('node', node.name), ('at', 0)]
    return items + list(kw.items())


def mutate_items(items, cfg):
    """Legal MessagePack variation on one message: nil for absent optionals,
    unknown extra keys, shuffled key order."""
    items = list(items)
    if cfg.get('extra'):
        items.append(('x-debug', {'trace': True, 'n': 3}))
        items.append(('zz', None))
    if cfg.get('shuffle'):
        random.Random(cfg['shuffle']).shuffle(items)
    return items

# --------------------------------------------------------------- one connection


class Conn:
    """One client connection to a node's VIP, simulated through the §2
    lifecycle: handed off, fallen back after a nack, or served locally."""

    def __init__(self, cl, fe, be, caddr, cport, t0, **cfg):
        self.cl, self.fe, self.be = cl, fe, be
        self.cfg = cfg
        self.t = t0
        v6 = is6(caddr)
        self.v6 = v6
        self.vip = fe.svc(v6)
        self.vport = cfg.get('vport', 80)
        ts = cfg.get('ts', True)
        mss = 1440 if v6 else 1460
        self.c = End(caddr, cport, cfg.get('ciss', random.getrandbits(32)), mss=mss,
                     ws=cfg.get('cws', 7), sack=cfg.get('sack', True), ts=ts,
                     ts_off=cfg.get('cts', random.getrandbits(32)), buf=cfg.get('cbuf', 64240 * 4),
                     layout=cfg.get('clayout', 'linux'))
        self.f = End(self.vip, self.vport, cfg.get('fiss', random.getrandbits(32)), mss=mss,
                     ws=cfg.get('wsF', 7), sack=True, ts=cfg.get('fe_ts', True),
                     ts_off=cfg.get('fts_off', random.getrandbits(32)))
        # DSCP and a TTL from afar: the rewrite must leave them alone (§4)
        self.c.tos, self.c.ttl = cfg.get('ctos', 0), cfg.get('cttl', 64)
        self.b = None
        if be is not None:
            biss = cfg.get('biss', random.getrandbits(32))
            if 'delta' in cfg:
                biss = (self.f.isn + cfg['delta']) & MASK   # Δ chosen: biss = fiss + Δ
            self.b = End(be.svc(v6), self.vport, biss,
                         mss=cfg.get('bmss', mss), ws=cfg.get('wsB', 7), sack=True,
                         ts=cfg.get('be_ts', True), ts_off=cfg.get('bts_off', random.getrandbits(32)),
                         buf=cfg.get('bbuf', 65160 * 8))
            self.b.sack = cfg.get('be_sack', True)
        self.phase = 'pre'
        self.fault = cfg.get('fault')
        self.x = None
        self.stored = []
        self.hid = None
        self.cbytes = 0
        self.sbytes = 0
        self.fe_mac = fe.mac
        self.faulty = []   # tags of packets carrying the fault

    # -- helpers
    def tick(self, dt=0.0002):
        self.t += dt
        return self.t

    def rec(self, view, t, seg, smac, dmac, tag=None, outbound=False):
        self.cl.rec.add(view, t, seg, smac, dmac, tag, outbound)

    def c_out(self, seg, tag=None, passup=None, lost=False, lost_fwd=False):
        """A client segment to the VIP: client view, LAN, then what the FE's
        BTCP does with it in the current phase."""
        if self.cfg.get('csum0') and self.phase == 'fwd' and not seg.payload and not getattr(self, 'c_zero_done', False):
            self.c_zero_done = True
            zero_csums(seg, lambda x: fwd_rewrite(x, self.x))
        t = self.t
        cm, fm = self.cl.client_mac, self.fe.mac
        if self.cfg.get('c_badip') and self.phase == 'local' and not seg.payload and not getattr(self, 'c_bad_done', False):
            # a copy with a wrong IPv4 header checksum that the FE's IP layer drops; the client's next one is good
            self.c_bad_done = True
            bad = seg.copy()
            bad.ip_csum = 'bad'
            self.rec('client', t, bad, cm, fm)
            self.rec('lan', t + 0.00001, bad, cm, fm)
            t = self.tick(0.0002)
        if self.cfg.get('client_partial') and not seg.udp:
            cs = seg.copy()
            cs.l4_csum = 'partial'
            self.rec('client', t, cs, cm, fm, tag, outbound=True)
        else:
            self.rec('client', t, seg, cm, fm, tag)
        self.rec('lan', t + 0.00001, seg, cm, fm, tag)
        if lost:
            return
        if self.phase == 'pre':
            if passup is None:
                passup = not seg.payload
            if passup:
                self.rec(self.fe.name + '-inside', t + 0.00002, seg, cm, fm, tag)
                self.f.receive(seg)
            else:
                # stored, not passed up (§2 step 4); a retransmission is absorbed
                if not any(s.seq == seg.seq and s.payload == seg.payload for s in self.stored):
                    self.stored.append(seg.copy())
        elif self.phase == 'fwd':
            fs = fwd_rewrite(seg, self.x)
            ftag = tag
            if self.cfg.get('fwd_mutate'):
                r = self.cfg['fwd_mutate'](self, seg, fs)
                if r:
                    fs, ftag = r[0], r[1]
            self.rec('lan', t + 0.00003, fs, fm, getattr(fs, 'dmac', self.be.mac), ftag)
            if lost_fwd or getattr(fs, 'dmac', self.be.mac) != self.be.mac:
                return   # (a frame to another MAC never reaches the BE)
            if fs.ip_csum == 'bad' or fs.l4_csum == 'bad':
                return   # the BE's IP layer (or its BTCP's checksum check) drops it
            if fs.dport != self.vport:
                # no socket for that port at the BE: its TCP answers with a
                # RST (seq = the segment's ack) that no BTCP state rewrites
                r = Seg(fs.dst, fs.src, fs.dport, fs.sport, fs.ack, 0, RST, 0,
                        ipid=0 if self.v6 else 4242)
                self.rec(self.be.name + '-inside', t + 0.00004, fs, fm, self.be.mac, ftag)
                self.rec(self.be.name + '-inside', t + 0.00005, r, self.be.mac, cm)
                self.rec('lan', t + 0.00006, r, self.be.mac, cm)
                self.rec('client', t + 0.00007, r, self.be.mac, cm)
                return
            self.rec(self.be.name + '-inside', t + 0.00004, fs, fm, self.be.mac, ftag)
            self.b.receive(fs)
            self.cbytes += 0
        elif self.phase == 'done':
            # forwarding state freed by the terminate: the FE's own TCP gets it
            self.rec(self.fe.name + '-inside', t + 0.00002, seg, cm, fm, tag)
        elif self.phase in ('local', 'done-local'):
            self.rec(self.fe.name + '-inside', t + 0.00002, seg, cm, fm, tag)
            self.f.receive(seg)

    def fe_out(self, seg, tag=None):
        """The FE's own TCP sends (SYN/ACK; everything when it serves)."""
        t = self.t
        fm, cm = self.fe.mac, self.cl.client_mac
        if self.cfg.get('fe_badsum') and seg.payload and not getattr(self, 'fe_bad_done', False):
            # corrupted between the FE and the LAN tap: the client drops it, the FE resends it
            self.fe_bad_done = True
            bad = seg.copy()
            bad.l4_csum = 'bad'
            self.rec('lan', t + 0.00001, bad, fm, cm)
            self.rec('client', t + 0.00002, bad, fm, cm)
            t = self.tick(0.0002)
        self.rec(self.fe.name + '-inside', t, seg, fm, cm, tag)
        self.rec('lan', t + 0.00001, seg, fm, cm, tag)
        self.rec('client', t + 0.00002, seg, fm, cm, tag)
        self.c.receive(seg)

    def be_out(self, seg, tag=None, lost=None, mutate=None):
        """The BE's TCP sends: BE inside (before the return rewrite), then the
        rewritten segment on the LAN and at the client. lost: 'btcp' (never
        leaves the BE), 'lan' (seen on the LAN, lost before the client),
        'pawscheck' (reaches the client, which drops it)."""
        if self.cfg.get('csum0') and seg.payload and not getattr(self, 'b_zero_done', False):
            self.b_zero_done = True
            zero_csums(seg, lambda x: ret_rewrite(x, self.x))
        t = self.t
        bm, cm = self.be.mac, self.cl.client_mac
        bs = seg
        if self.cfg.get('be_partial'):
            bs = seg.copy()
            bs.l4_csum = 'partial'
        self.rec(self.be.name + '-inside', t, bs, bm, cm, None, outbound=bool(self.cfg.get('be_partial')))
        if lost == 'btcp':
            return None
        rs = ret_rewrite(seg, self.x)
        if self.cfg.get('ret_ts_raw') and opt_get(seg.opts, 'ts'):
            # the BE's BTCP leaves every TSval untranslated
            rs.opts = opt_set(rs.opts, 'ts', opt_get(seg.opts, 'ts'))
            tag = tag or 'fault'
        if self.cfg.get('ret_seq_off'):
            # the BE's BTCP rewrites every segment with a wrong Δ
            rs.seq = (rs.seq + self.cfg['ret_seq_off']) & MASK
            tag = tag or 'fault'
        if mutate:
            mutate(rs)
        self.rec('lan', t + 0.00001, rs, bm, cm, tag)
        if lost == 'lan':
            return rs
        self.rec('client', t + 0.00002, rs, bm, cm, tag)
        if lost == 'client-drops' or rs.l4_csum == 'bad' or rs.ip_csum == 'bad':
            return rs
        self.c.receive(rs)
        return rs

    # -- the story
    def handshake(self):
        c, f = self.c, self.f
        if self.cfg.get('syn_retrans'):
            # the first SYN is lost between the client and the LAN; 1 s later
            # the client tries again with the same ISN and a new TSval
            s0 = c.seg_to(self.vip, self.vport, self.t, SYN)
            s0.opts = c.syn_opts(self.t, 0)
            self.rec('client', self.t, s0, self.cl.client_mac, self.fe.mac)
            c.snd_nxt = c.isn
            self.tick(1.0)
        s = c.seg_to(self.vip, self.vport, self.t, SYN)
        s.opts = c.syn_opts(self.t, 0)
        self.syn = s
        self.c_out(s, passup=True)
        self.stored.append(s.copy())
        self.tick()
        f.peer_ts = c.ts
        f.ts = f.ts and c.ts
        # RFC 7323: WS and TS only in a SYN/ACK if the SYN had them
        if c.ws is None:
            f.ws = None
            if self.b:
                self.b.ws = None
        sa = f.seg_to(c.addr, c.port, self.t, SYN | ACK)
        sa.opts = f.syn_opts(self.t, f.ts_recent)
        if not c.sack:
            sa.opts = [o for o in sa.opts if o[0] != 'sackok']
        self.fts = f.tsval(self.t) if f.ts else None
        self.fopt = {'mss': f.mss, 'sack': bool(c.sack), 'ts': bool(f.ts)}
        if f.ws is not None:
            self.fopt['ws'] = f.ws
        c.scale_on = f.scale_on = c.ws is not None and f.ws is not None
        c.peer_ts = f.ts
        if not f.ts:
            c.ts = False
        self.fe_out(sa)
        self.tick()
        if self.cfg.get('synack_retrans'):
            # the client's ACK is lost before the LAN; the FE's SYN/ACK timer
            # fires (1 s) and it resends its SYN/ACK (same ISN, new TSval): the
            # FE records the last one's timestamp, the one the client echoes
            a0 = c.seg_to(self.vip, self.vport, self.t, ACK)
            self.rec('client', self.t, a0, self.cl.client_mac, self.fe.mac)
            self.tick(1.0)
            f.snd_nxt = f.isn
            sa = f.seg_to(c.addr, c.port, self.t, SYN | ACK)
            sa.win = min(0xFFFF, f.buf)   # a SYN's window is never scaled
            sa.opts = f.syn_opts(self.t, f.ts_recent)
            if not c.sack:
                sa.opts = [o for o in sa.opts if o[0] != 'sackok']
            self.fts = f.tsval(self.t) if f.ts else None
            self.fe_out(sa)
            self.tick()
        a = c.seg_to(self.vip, self.vport, self.t, ACK)
        self.c_out(a, passup=True)
        self.stored.append(a.copy())

    def request(self, parts, retrans_pre=False):
        self.req = b''.join(parts)
        segs = []
        for i, p in enumerate(parts):
            self.tick(0.0003)
            s = self.c.seg_to(self.vip, self.vport, self.t, ACK | (PSH if i == len(parts) - 1 else 0), p)
            segs.append(s)
            self.c_out(s)
        if retrans_pre:
            # the client's RTO fires before the FE decided: absorbed (§2 step 4)
            self.tick(0.002)
            s = segs[0].copy()
            tsv = s.ts()
            if tsv:
                s.opts = opt_set(s.opts, 'ts', ('ts', self.c.tsval(self.t), tsv[1]))
            self.c.ipid = (self.c.ipid + 1) & 0xFFFF
            s.ipid = 0 if self.v6 else self.c.ipid
            self.c_out(s)
        self.cbytes = len(self.req)

    def decide_handoff(self, ch, mp=None, reqcfg=None):
        fe = self.fe
        fe.hid_n += 1
        self.hid = self.cfg.get('hid') or '%s/%d' % (fe.name, fe.hid_n)
        self.tick(0.0005)
        pkts = [s.ip() for s in self.stored]
        if self.fault == 'request-replay':
            # the FE stored a copy whose request byte got altered
            bad = self.stored[-1].copy()
            pl = bytearray(bad.payload)
            pl[5] ^= 0x20
            bad.payload = bytes(pl)
            pkts[-1] = bad.ip()
            self.replayed = self.stored[:-1] + [bad]
        elif self.fault == 'request-replay-missing':
            # the FE replays the request without its last segment
            pkts = pkts[:-1]
            self.replayed = self.stored[:-1]
        else:
            self.replayed = self.stored
        url = self.req.split(b' ')[1].decode()
        host = None
        for line in self.req.split(b'\r\n'):
            if line.lower().startswith(b'host:'):
                host = line[5:].strip().decode()
        rc = reqcfg or {}
        items = msg('handoff-req', fe, hid=self.hid, cip=ipstr(self.c.addr), cport=self.c.port,
                    vip=ipstr(self.vip), vport=self.vport,
                    ciss=(self.c.isn + (1 if self.fault == 'isn-mismatch' else 0)) & MASK,
                    fiss=(self.f.isn + (1 if self.fault == 'isn-mismatch-fiss' else 0)) & MASK)
        if self.fts is not None:
            items.append(('fts', self.fts))
        elif rc.get('nil'):
            items.append(('fts', None))
        items += [('fopt', self.fopt), ('pkts', pkts), ('url', url)]
        if host is not None:
            items.append(('host', host))
        elif rc.get('nil'):
            items.append(('host', None))
        items = mutate_items(items, rc)
        self.req_t = self.t
        ch.send(self.t, fe, items, mp=mp, segmode=rc.get('segmode'), tag=('req', self.hid), dup=rc.get('dup', False))
        return items

    def be_accept(self, ch, mp=None, ackcfg=None):
        """BE side of §2 steps 7-8: replay SYN, ACK, request; drop its own
        SYN/ACK; answer with handoff-ack."""
        be, b, c = self.be, self.b, self.c
        self.tick(0.0004)
        # the replayed SYN: forward-rewritten with Δ unknown yet; a SYN has
        # no ACK flag and TSecr 0, so only the destination changes
        syn = self.replayed[0].copy()
        syn.dst = b.addr
        self.rec(be.name + '-inside', self.t, syn, self.fe.mac, be.mac)
        b.receive(syn)
        b.peer_ts = c.ts
        b.ts = b.ts and c.ts
        self.tick(0.00005)
        if 'tau' in self.cfg and self.fts is not None:
            # τ chosen: the BE's clock set so that bts = fts + τ
            b.ts_off = (self.fts + self.cfg['tau'] - int(self.t * 1000)) & MASK
        sa = b.seg_to(c.addr, c.port, self.t, SYN | ACK)
        sa.opts = b.syn_opts(self.t, b.ts_recent)
        if not c.sack:
            sa.opts = [o for o in sa.opts if o[0] != 'sackok']
        b.scale_on = c.ws is not None and b.ws is not None
        self.bts = b.tsval(self.t) if b.ts else None
        self.rec(be.name + '-inside', self.t, sa, be.mac, self.cl.client_mac)
        if self.fault == 'synack-leak':
            self.be_synack = sa
        self.x = XState(self.f.isn, b.isn, self.fts, self.bts,
                        self.f.ws if self.f.scale_on else None,
                        b.ws if b.scale_on else None, self.vip, b.addr, be.mac)
        for s in self.replayed[1:]:
            self.tick(0.00003)
            fs = fwd_rewrite(s, self.x)
            self.rec(be.name + '-inside', self.t, fs, self.fe.mac, be.mac)
            b.receive(fs)
        bopt = {'mss': b.mss, 'sack': bool(c.sack and b.sack), 'ts': bool(b.ts)}
        if b.ws is not None:
            bopt['ws'] = b.ws
        self.tick(0.0001)
        ac = ackcfg or {}
        items = msg('handoff-ack', be, hid=self.hid, biss=(b.isn + (1 if self.fault == 'isn-mismatch-biss' else 0)) & MASK)
        if self.bts is not None:
            items.append(('bts', self.bts))
        elif ac.get('nil'):
            items.append(('bts', None))
        items += [('bopt', bopt), ('baddr', ipstr(b.addr)), ('bmac', be.mac)]
        items = mutate_items(items, ac)
        self.ack_t = self.t
        if self.fault != 'handoff-orphan':
            ch.send(self.t, be, items, mp=mp, segmode=ac.get('segmode'), tag=('ack', self.hid))
        self.tick(0.0002)
        # FE: its own TCP's copy is reset by a RST that never leaves the host (§2 step 9)
        rst = Seg(c.addr, self.vip, c.port, self.vport, (c.isn + 1) & MASK, 0, RST, 0,
                  ipid=0 if self.v6 else c.ipid)
        self.rec(self.fe.name + '-inside', self.t, rst, self.cl.client_mac, self.fe.mac)
        self.phase = 'fwd'

    def respond(self, size, lose=(), lose_how='lan', first_ack=False, mutate_at=None):
        """The BE's TCP answers: an optional pure ACK of the request, then the
        response in MSS-sized segments; segments lost on the way cause SACKed
        dup-acks from the client and retransmissions by the BE."""
        b = self.b
        seg_max = b.mss - (12 if b.ts and b.peer_ts else 0)
        seg_max = min(seg_max, self.c.mss - (12 if b.ts and b.peer_ts else 0))
        head = b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\nServer: spec-gen\r\n\r\n' % size
        body = bytes((i * 7 + 3) & 0xFF for i in range(size))
        data = head + body
        self.tick(0.0003)
        if first_ack:
            s = b.seg_to(self.c.addr, self.c.port, self.t, ACK)
            self.be_out(s, **(mutate_at.pop('ack', {}) if mutate_at else {}))
        chunks = [data[i:i + seg_max] for i in range(0, len(data), seg_max)]
        sent = []
        since_ack = 0
        for i, ch in enumerate(chunks):
            self.tick(0.00004)
            s = b.seg_to(self.c.addr, self.c.port, self.t, ACK | (PSH if i == len(chunks) - 1 else 0), ch)
            kw = {}
            if i in lose:
                kw['lost'] = lose_how
            if mutate_at and i in mutate_at:
                kw.update(mutate_at[i])
            rs = self.be_out(s, **kw)
            sent.append((s, i in lose or kw.get('lost') == 'client-drops' or
                         (rs is not None and (rs.l4_csum == 'bad' or rs.ip_csum == 'bad'))))
            self.tick(0.00003)   # the client reacts after the segment reached it
            if kw.get('lost') is None and rs is not None and rs.l4_csum != 'bad' and rs.ip_csum != 'bad':
                gap = bool(self.c.ooo)
                if gap:
                    self.client_ack(sack=True)
                    since_ack = 0
                else:
                    since_ack += 1
                    if since_ack >= 2 or i == len(chunks) - 1:
                        self.client_ack()
                        since_ack = 0
        self.sbytes += len(data)
        return sent

    def client_ack(self, sack=False, flags=ACK, payload=b''):
        c = self.c
        s = c.seg_to(self.vip, self.vport, self.t, flags, payload,
                     sack=c.sack_blocks() if (sack and c.sack) else None)
        self.c_out(s)
        self.tick(0.00002)
        return s

    def retransmit(self, s, lost=None, mutate=None, tag=None):
        """The BE retransmits the same bytes (new TSval, as a real stack does)."""
        b = self.b
        self.tick(0.0002)
        o = []
        if b.ts and b.peer_ts:
            o = [('nop',), ('nop',), ('ts', b.tsval(self.t), b.ts_recent)]
        b.ipid = (b.ipid + 1) & 0xFFFF
        r = Seg(s.src, s.dst, s.sport, s.dport, s.seq, b.rcv_nxt, s.flags, b.win(), o, s.payload,
                ipid=0 if self.v6 else b.ipid)
        rs = self.be_out(r, lost=lost, mutate=mutate, tag=tag)
        self.tick(0.00003)
        return rs

    def close(self, how, ch):
        c, b = self.c, self.b
        self.tick(0.003)
        if how == 'server-fin':
            self.be_out(b.seg_to(c.addr, c.port, self.t, FIN | ACK))
            self.tick(0.0001)
            self.client_ack()
            self.tick(0.0005)
            self.client_ack(flags=FIN | ACK)
            self.tick(0.0001)
            self.be_out(b.seg_to(c.addr, c.port, self.t, ACK))
            reason = 'fin'
        elif how == 'client-fin':
            self.client_ack(flags=FIN | ACK)
            self.tick(0.0001)
            self.be_out(b.seg_to(c.addr, c.port, self.t, FIN | ACK))
            self.tick(0.0001)
            self.final_ack = self.client_ack()
            reason = 'fin'
        elif how == 'client-rst':
            self.client_ack(flags=RST | ACK)
            reason = 'rst'
        elif how == 'client-rst-noack':
            # RST without the ACK flag whose ack field still holds a stale
            # value: §4 translates ack only when the flag is set
            s = c.seg_to(self.vip, self.vport, self.t, RST)
            s.ack = (c.rcv_nxt - 1000) & MASK
            self.c_out(s)
            reason = 'rst'
        elif how == 'be-rst':
            self.be_out(b.seg_to(c.addr, c.port, self.t, RST | ACK))
            reason = 'rst'
        elif how == 'timeout':
            self.tick(1.5)
            reason = 'timeout'
        else:
            raise ValueError(how)
        self.tick(0.0002)
        self.term_t = self.t
        items = msg('terminate', self.be, hid=self.hid, reason=reason,
                    cbytes=len(self.req) + self.extra_c, sbytes=self.sbytes)
        items = mutate_items(items, self.cfg.get('termcfg', {}))
        ch.send(self.t, self.be, items, mp=self.cfg.get('termmp'),
                segmode=self.cfg.get('termcfg', {}).get('segmode'), tag=('term', self.hid))
        self.phase = 'done'

    extra_c = 0


# --------------------------------------------------------------- stories


def http_req(path, host='www.example.test', extra=b''):
    return b'GET ' + path.encode() + b' HTTP/1.1\r\nHost: ' + host.encode() + \
        b'\r\nUser-Agent: spec-gen/1\r\nAccept: */*\r\n' + extra + b'\r\n'


def handoff(cl, fe, be, caddr, cport, t0, path='/img/a.png', parts=1, size=6000,
            close='server-fin', lose=(), retrans_pre=False, retrans_post=False,
            keepalive=False, req_mp=None, reqcfg=None, ack_mp=None, ackcfg=None,
            first_ack=True, second_req=False, expect=True, mutate_at=None,
            retrans_req_after=False, stray_after=False, bsd_keepalive=False, **cfg):
    conn = Conn(cl, fe, be, caddr, cport, t0, **cfg)
    ch = cl.channel(fe, be)
    conn.handshake()
    req = http_req(path, extra=cfg.get('req_extra', b''))
    if parts == 1:
        pp = [req]
    else:
        step = len(req) // parts + 1
        pp = [req[i:i + step] for i in range(0, len(req), step)]
    conn.request(pp, retrans_pre=retrans_pre)
    conn.decide_handoff(ch, mp=req_mp, reqcfg=reqcfg)
    if conn.fault == 'handoff-orphan':
        # the BE never answers; after its timeout the FE serves the request itself
        conn.tick(0.2)
        serve_locally(conn)
        if expect:
            cl.expect_sessions.append(dict(cip=ipstr(caddr), cport=cport, kind=None, hid=None))
        return conn
    conn.be_accept(ch, mp=ack_mp, ackcfg=ackcfg)
    if retrans_req_after:
        # the client's RTO fires after the handoff, before the BE's ACK reached
        # it: the request's last segment again, forwarded; the BE answers the
        # duplicate with a pure ACK
        conn.tick(0.0001)
        last = conn.stored[-1].copy()
        tsv = last.ts()
        if tsv:
            last.opts = opt_set(last.opts, 'ts', ('ts', conn.c.tsval(conn.t), tsv[1]))
        conn.c.ipid = (conn.c.ipid + 1) & 0xFFFF
        last.ipid = 0 if conn.v6 else conn.c.ipid
        conn.c_out(last)
        conn.tick(0.0001)
        conn.be_out(conn.b.seg_to(caddr, cport, conn.t, ACK))
        first_ack = False
    sent = conn.respond(size, lose=lose, lose_how=cfg.get('lose_how', 'lan'), first_ack=first_ack,
                        mutate_at=mutate_at)
    if conn.fault == 'synack-leak':
        # the BE's BTCP lets its SYN/ACK out (return-rewritten); the client,
        # established, answers an old SYN with an ACK (RFC 793 p. 69)
        conn.tick(0.0001)
        if cfg.get('leak_raw'):
            # not even rewritten: from the BE's address; the client has no such
            # connection and resets it (seq = the SYN/ACK's ack); the BE finds
            # that RST out of window and ignores it
            rs = conn.be_synack
            conn.rec('lan', conn.t, rs, be.mac, cl.client_mac, 'fault')
            conn.rec('client', conn.t + 0.00001, rs, be.mac, cl.client_mac, 'fault')
            conn.tick(0.00003)
            r = Seg(caddr, rs.src, cport, rs.sport, rs.ack, 0, RST, 0, ipid=0 if conn.v6 else 999)
            conn.rec('client', conn.t, r, cl.client_mac, be.mac)
            conn.rec('lan', conn.t + 0.00001, r, cl.client_mac, be.mac)
            conn.rec(be.name + '-inside', conn.t + 0.00002, r, cl.client_mac, be.mac)
        else:
            rs = ret_rewrite(conn.be_synack, conn.x)
            conn.rec('lan', conn.t, rs, be.mac, cl.client_mac, 'fault')
            conn.rec('client', conn.t + 0.00001, rs, be.mac, cl.client_mac, 'fault')
            conn.tick(0.00003)
            conn.client_ack()   # an old SYN/ACK on an established connection: ACK it
    if conn.fault == 'rst-leak-local':
        # the FE's local reset itself (client → VIP, seq ciss + 1, ack fiss + 1) sent the other way round:
        # from the VIP to the client, which finds it out of window and ignores it
        conn.tick(0.00005)
        r = Seg(conn.vip, caddr, conn.vport, cport, (conn.c.isn + 1) & MASK, (conn.f.isn + 1) & MASK,
                RST | ACK, 0, ipid=0 if conn.v6 else conn.f.ipid + 1)
        conn.rec('lan', conn.t + 0.00001, r, fe.mac, cl.client_mac, 'fault')
        conn.rec('client', conn.t + 0.00002, r, fe.mac, cl.client_mac, 'fault')
    if conn.fault == 'rst-leak':
        # the FE's own TCP answers the reset with one of its own that the BTCP
        # fails to swallow: from the VIP, seq fiss+1 — now behind the client's
        # rcv_nxt (the BE's data arrived first), so the client ignores it
        conn.tick(0.00005)
        r = Seg(conn.vip, caddr, conn.vport, cport, (conn.f.isn + 1) & MASK, (conn.c.isn + 1) & MASK,
                RST | ACK, 0, ipid=0 if conn.v6 else conn.f.ipid + 1)
        conn.rec(fe.name + '-inside', conn.t, r, fe.mac, cl.client_mac)
        conn.rec('lan', conn.t + 0.00001, r, fe.mac, cl.client_mac, 'fault')
        conn.rec('client', conn.t + 0.00002, r, fe.mac, cl.client_mac, 'fault')
    if cfg.get('gap_content'):
        # the BE resends segment 2 spuriously, one byte different from the first time
        s2 = sent[2][0].copy()
        pl = bytearray(s2.payload)
        pl[100] ^= 0xFF
        s2.payload = bytes(pl)
        conn.retransmit(s2, tag='fault')
        conn.client_ack()   # a duplicate: the client ACKs again
    lost_segs = [s for s, l in sent if l]
    if lost_segs:
        # three dup-acks arrived (SACK blocks, forwarded + Δ): fast retransmit;
        # a retransmission in the stream-gap fault never leaves the BE
        for s in lost_segs:
            conn.retransmit(s, lost='btcp' if conn.fault == 'stream-gap' else None)
            if conn.fault != 'stream-gap':
                conn.client_ack(sack=True)
    if keepalive:
        conn.tick(0.8)
        # client keep-alive: seq = snd_nxt − 1, no data (Linux)
        c = conn.c
        ka = c.seg_to(conn.vip, conn.vport, conn.t, ACK, seq=(c.snd_nxt - 1) & MASK)
        conn.c_out(ka)
        conn.tick(0.0001)
        conn.be_out(conn.b.seg_to(caddr, cport, conn.t, ACK))   # its ACK
        conn.tick(0.5)
        b = conn.b
        # Linux probes with no data; BSD with one garbage octet (RFC 1122 4.2.3.6)
        bka = b.seg_to(caddr, cport, conn.t, ACK, b'\x00' if bsd_keepalive else b'',
                       seq=(b.snd_nxt - 1) & MASK)
        conn.be_out(bka)
        conn.tick(0.0001)
        conn.client_ack()
    if second_req:
        # persistent connection: a second request after the handoff, retransmitted once
        conn.tick(0.01)
        r2 = http_req('/img/b.png')
        if cfg.get('fwd_loss'):
            # in two segments; the FE's forwarded copy of the first is lost
            # before the BE, which SACKs the second (client-space edges,
            # unchanged by the return rewrite); the client's RTO resends it
            c = conn.c
            p1 = c.seg_to(conn.vip, conn.vport, conn.t, ACK, r2[:40])
            conn.c_out(p1, lost_fwd=True)
            conn.tick(0.00005)
            p2 = c.seg_to(conn.vip, conn.vport, conn.t, ACK | PSH, r2[40:])
            conn.c_out(p2)
            conn.tick(0.0001)
            conn.be_out(conn.b.seg_to(caddr, cport, conn.t, ACK, sack=conn.b.sack_blocks()))
            conn.tick(0.2)
            p1r = p1.copy()
            tsv = p1r.ts()
            if tsv:
                p1r.opts = opt_set(p1r.opts, 'ts', ('ts', c.tsval(conn.t), c.ts_recent))
            c.ipid = (c.ipid + 1) & 0xFFFF
            p1r.ipid = 0 if conn.v6 else c.ipid
            conn.c_out(p1r)
            s = p2
        else:
            s = conn.c.seg_to(conn.vip, conn.vport, conn.t, ACK | PSH, r2)
            conn.c_out(s)
        if retrans_post:
            conn.tick(0.003)
            s2 = s.copy()
            tsv = s2.ts()
            if tsv:
                s2.opts = opt_set(s2.opts, 'ts', ('ts', conn.c.tsval(conn.t), tsv[1]))
            conn.c.ipid = (conn.c.ipid + 1) & 0xFFFF
            s2.ipid = 0 if conn.v6 else conn.c.ipid
            conn.c_out(s2)
        conn.extra_c = len(r2)
        conn.respond(2500, first_ack=False)
    if conn.fault == 'stream-gap':
        # the hole never fills: the BE's TCP gives up and resets
        close = 'be-rst'
    conn.close(close, ch)
    if cfg.get('inflight'):
        # a client keep-alive the FE forwarded before the terminate reached
        # it: on the LAN 30 µs after the terminate (propagation, not a late forward)
        c = conn.c
        conn.t = conn.term_t - 0.00001
        ka = c.seg_to(conn.vip, conn.vport, conn.t, ACK, seq=(c.snd_nxt - 1) & MASK)
        conn.rec('client', conn.t, ka, cl.client_mac, fe.mac)
        conn.rec('lan', conn.t + 0.00001, ka, cl.client_mac, fe.mac)
        fs = fwd_rewrite(ka, conn.x)
        conn.rec('lan', conn.t + 0.00004, fs, fe.mac, be.mac)
        conn.rec(be.name + '-inside', conn.t + 0.00005, fs, fe.mac, be.mac)
        conn.tick(0.001)
    if stray_after:
        # after the terminate the client sends again: the FE's own TCP, whose
        # copy was reset at the handoff, answers with a RST from the VIP
        conn.tick(0.05)
        s = conn.c.seg_to(conn.vip, conn.vport, conn.t, ACK | PSH, http_req('/again'))
        conn.c_out(s)
        conn.tick(0.0001)
        conn.fe_out(Seg(conn.vip, caddr, conn.vport, cport, s.ack, 0, RST, 0,
                        ipid=0 if conn.v6 else 777))
    if conn.fault == 'late-forward':
        # the FE forwards a copy of the client's final ACK 5 ms after the terminate
        conn.tick(0.005)
        fs = fwd_rewrite(conn.final_ack, conn.x)
        conn.rec('lan', conn.t, fs, fe.mac, be.mac, 'fault')
        conn.rec(be.name + '-inside', conn.t + 0.00001, fs, fe.mac, be.mac, 'fault')
    if expect:
        cl.expect_sessions.append(dict(cip=ipstr(caddr), cport=cport, kind='handoff', hid=conn.hid,
                                       backend=be.name))
    return conn


def serve_locally(conn, size=3000, close=True):
    """The FE serves the connection itself: the stored request passed up."""
    c, f, fe = conn.c, conn.f, conn.fe
    conn.phase = 'local'
    for s in conn.stored[2:]:
        conn.tick(0.00002)
        conn.rec(fe.name + '-inside', conn.t, s, conn.cl.client_mac, fe.mac)
        f.receive(s)
    head = b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % size
    data = head + bytes(i & 0xFF for i in range(size))
    seg_max = f.mss - (12 if f.ts and f.peer_ts else 0)
    for i in range(0, len(data), seg_max):
        conn.tick(0.00005)
        conn.fe_out(f.seg_to(c.addr, c.port, conn.t, ACK | PSH, data[i:i + seg_max]))
    conn.tick(0.0001)
    conn.client_ack()
    if close:
        conn.tick(0.001)
        conn.client_ack(flags=FIN | ACK)
        conn.tick(0.0001)
        conn.fe_out(f.seg_to(c.addr, c.port, conn.t, FIN | ACK))
        conn.tick(0.0001)
        conn.client_ack()


def local(cl, fe, caddr, cport, t0, path='/local/x', close_rst=False, **cfg):
    conn = Conn(cl, fe, None, caddr, cport, t0, **cfg)
    conn.handshake()
    conn.request([http_req(path)])
    conn.tick(0.0004)
    serve_locally(conn, close=not close_rst)
    if close_rst:
        # the server aborts: a RST from the VIP that is no handoff's
        conn.tick(0.001)
        conn.fe_out(conn.f.seg_to(conn.c.addr, conn.c.port, conn.t, RST | ACK))
    cl.expect_sessions.append(dict(cip=ipstr(caddr), cport=cport, kind='local', hid=None))
    return conn


def fallback(cl, fe, be, caddr, cport, t0, path='/api/full', **cfg):
    conn = Conn(cl, fe, be, caddr, cport, t0, **cfg)
    ch = cl.channel(fe, be)
    conn.handshake()
    conn.request([http_req(path)])
    conn.decide_handoff(ch)
    conn.tick(0.0006)
    ch.send(conn.t, be, msg('handoff-nack', be, hid=conn.hid, err='no capacity'))
    conn.tick(0.0003)
    serve_locally(conn)
    cl.expect_sessions.append(dict(cip=ipstr(caddr), cport=cport, kind='fallback', hid=conn.hid))
    return conn


def plain_tcp(cl, caddr, cport, saddr, sport, t0, smac='02:99:00:00:00:09', badsum=False, badip=False, kind='plain'):
    """A TCP connection that is no handoff's (client to some other server; kind 'local' when to a node's
    own address: `handoff sessions` calls every connection to a node that no handoff-req names local)."""
    c = End(caddr, cport, random.getrandbits(32), ws=8, ts_off=random.getrandbits(32))
    s = End(saddr, sport, random.getrandbits(32), ws=9, ts_off=random.getrandbits(32))
    t = [t0]
    cm = cl.client_mac

    def out(e, peer, seg, tag=None):
        for v in ('client', 'lan'):
            cl.rec.add(v, t[0], seg, cm if e is c else smac, smac if e is c else cm, tag)
        peer.receive(seg)
        t[0] += 0.0003

    x = c.seg_to(saddr, sport, t[0], SYN)
    x.opts = c.syn_opts(t[0], 0)
    out(c, s, x)
    y = s.seg_to(caddr, cport, t[0], SYN | ACK)
    y.opts = s.syn_opts(t[0], s.ts_recent)
    c.scale_on = s.scale_on = c.peer_ts = s.peer_ts = True
    out(s, c, y)
    out(c, s, c.seg_to(saddr, sport, t[0], ACK))
    out(c, s, c.seg_to(saddr, sport, t[0], ACK | PSH, b'\x16\x03\x01' + bytes(200)))
    z = s.seg_to(caddr, cport, t[0], ACK | PSH, bytes(range(256)) * 4)
    if badsum:
        z.l4_csum = 'bad'   # never raises a check id: no handoff's segment
    out(s, c, z)
    if badsum:
        s.snd_nxt = z.seq
        out(s, c, s.seg_to(caddr, cport, t[0], ACK | PSH, bytes(range(256)) * 4))
    if badip and not is6(caddr):
        x = c.seg_to(saddr, sport, t[0], ACK)
        x.ip_csum = 'bad'   # dropped by the server's IP layer; never raises ip-checksum: no handoff's
        for v in ('client', 'lan'):
            cl.rec.add(v, t[0], x, cm, smac)
        t[0] += 0.0003
    out(c, s, c.seg_to(saddr, sport, t[0], ACK))
    out(c, s, c.seg_to(saddr, sport, t[0], FIN | ACK))
    out(s, c, s.seg_to(caddr, cport, t[0], FIN | ACK))
    out(c, s, c.seg_to(saddr, sport, t[0], ACK))
    cl.expect_sessions.append(dict(cip=ipstr(caddr), cport=cport, kind=kind, hid=None))


def udp_noise(cl, caddr, saddr, t0, smac='02:99:00:00:00:53'):
    for i in range(3):
        q = Seg(caddr, saddr, 53000 + i, 53, payload=struct.pack('!HHHHHH', 0x1000 + i, 0x0100, 1, 0, 0, 0) +
                b'\x03www\x07example\x04test\x00\x00\x01\x00\x01', udp=True, ipid=100 + i)
        r = Seg(saddr, caddr, 53, 53000 + i, payload=q.payload[:2] + b'\x81\x80' + q.payload[4:], udp=True, ipid=200 + i)
        for v in ('client', 'lan'):
            cl.rec.add(v, t0 + i * 0.01, q, cl.client_mac, smac)
            cl.rec.add(v, t0 + i * 0.01 + 0.0004, r, smac, cl.client_mac)


def ping_pong(cl, a, b, t, n):
    ch = cl.channel(a, b)
    ch.send(t, a, msg('ping', a, n=n))
    ch.send(t + 0.0002, b, msg('pong', b, n=n))

# --------------------------------------------------------------- writers


def pcap_write(path, frames, linktype, nano=False, big=False):
    e = '>' if big else '<'
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    with open(path, 'wb') as f:
        f.write(struct.pack(e + 'IHHiIII', magic, 2, 4, 0, 0, 262144, linktype))
        for fr in frames:
            data = ether(fr) if linktype == LT_ETHER else fr['ip']
            sec, ns = divmod(fr['ns'], 10 ** 9)
            frac = ns if nano else ns // 1000
            f.write(struct.pack(e + 'IIII', sec, frac, len(data), len(data)) + data)


def pcapng_write(path, ifaces, frames, big=False):
    """ifaces: [(name, linktype, tsresol_exp)]; frames carry 'iface'."""
    e = '>' if big else '<'

    def opt(code, val):
        return struct.pack(e + 'HH', code, len(val)) + val + b'\0' * ((4 - len(val) % 4) % 4)

    def block(btype, body):
        n = 12 + len(body)
        return struct.pack(e + 'II', btype, n) + body + struct.pack(e + 'I', n)

    with open(path, 'wb') as f:
        shb = struct.pack(e + 'IHHq', 0x1A2B3C4D, 1, 0, -1) + opt(4, b'spec-gen.py') + opt(0, b'')
        f.write(block(0x0A0D0D0A, shb))
        for name, lt, res in ifaces:
            body = struct.pack(e + 'HHI', lt, 0, 262144) + opt(2, name.encode())
            if res != 6:
                body += opt(9, bytes([res]))
            body += opt(0, b'')
            f.write(block(1, body))
        for fr in frames:
            name, lt, res = ifaces[fr['iface']]
            data = ether(fr) if lt == LT_ETHER else fr['ip']
            ts = fr['ns'] // 10 ** (9 - res)
            body = struct.pack(e + 'IIIII', fr['iface'], ts >> 32, ts & MASK, len(data), len(data))
            body += data + b'\0' * ((4 - len(data) % 4) % 4)
            if fr.get('outbound'):
                body += opt(2, struct.pack(e + 'I', 2)) + opt(0, b'')
            f.write(block(6, body))

# --------------------------------------------------------------- output


class Out:
    def __init__(self, root):
        self.root = root
        self.traces = []

    def select(self, cl, views, offset=0.0, start=None):
        fr = [dict(f) for f in cl.rec.frames if f['view'] in views and (start is None or f['t'] >= start)]
        fr.sort(key=lambda f: (f['t'], f['order']))
        for f in fr:
            # integer nanoseconds: a float of seconds since 1970 cannot hold them
            f['ns'] = (EPOCH + 3600) * 10 ** 9 + int(round((f['t'] + offset) * 1e9))
        return fr

    def write_pcapng(self, cl, fname, views, big=False, nano_views=(), linktypes=None, start=None):
        ifaces = []
        idx = {}
        for v in views:
            names = v if isinstance(v, tuple) else (v,)
            label = {'lan-ctl': 'lan', 'ctl': 'control'}.get(names[0], names[0])
            lt = LT_RAW if label.endswith('-inside') else LT_ETHER
            if linktypes and label in linktypes:
                lt = linktypes[label]
            idx.update({n: len(ifaces) for n in names})
            ifaces.append((label, lt, 9 if label in nano_views else 6))
        fr = self.select(cl, set(idx), start=start)
        for f in fr:
            f['iface'] = idx[f['view']]
        path = os.path.join(self.root, fname)
        pcapng_write(path, ifaces, fr, big=big)
        return self.frame_map(fname, fr)

    def write_pcap(self, cl, fname, views, linktype=LT_ETHER, nano=False, big=False, offset=0.0):
        fr = self.select(cl, set(views), offset)
        pcap_write(os.path.join(self.root, fname), fr, linktype, nano, big)
        return self.frame_map(fname, fr)

    def frame_map(self, fname, fr):
        tags = {}
        for i, f in enumerate(fr, 1):
            if f['tag'] is not None:
                tags.setdefault(json.dumps(f['tag']), []).append(dict(file=fname, frame=i, view=f['view']))
        return tags

    def clean_elsewhere(self, cl, stem):
        """The clean scenario cl again as one LAN pcap, and as the client side + control (that one not
        compared with the scenario's sessions rows: they hold connections the client side never sees)."""
        self.write_pcap(cl, f'{stem}-wire.pcap', ['lan', 'lan-ctl'])
        self.add('the same, one LAN pcap', [f'{stem}-wire.pcap'], 'clean', cl)
        self.write_pcapng(cl, f'{stem}-client.pcapng', ['client', 'ctl'])
        self.add('the same, client side + control', [f'{stem}-client.pcapng'], 'clean', cl, sessions=False)

    def add(self, name, files, kind, cl=None, check=None, frames=None, note='', sessions=True,
            infer=None, flags=None, replay=False):
        t = dict(name=name, files=files, kind=kind, note=note, flags=flags or [])
        if replay:
            # `handoff replay --write` of this one pcapng must derive legs whose
            # every packet is byte for byte one this generator wrote: forwarded
            # (lan), return (lan, client), BE inside (<node>-inside)
            t['replay'] = True
        if check:
            t['check'] = check
        t['frames'] = frames or []
        if cl is not None and sessions:
            t['sessions'] = cl.expect_sessions
        if infer is not None:
            # the same traffic without the control channel: `check --infer`
            # must find every handoff (inferHandoffs) and nothing wrong
            t['inferFiles'] = infer
            t['inferHandoffs'] = sum(1 for e in cl.expect_sessions if e['kind'] == 'handoff')
        self.traces.append(t)

# --------------------------------------------------------------- scenarios


def cluster4(name='c4', ctl6=False):
    cl = Cluster(name, ctl6=ctl6)
    a = cl.node('alpha', '10.77.0.21', '02:00:0a:4d:00:15', 'fd77:77::21')
    b = cl.node('bravo', '10.77.0.22', '02:00:0a:4d:00:16', 'fd77:77::22')
    c = cl.node('charlie', '10.77.0.23', '02:00:0a:4d:00:17', 'fd77:77::23')
    return cl, a, b, c


def scenario_v4():
    """Many handoffs, both directions on one channel, three node pairs."""
    cl, A, B, C = cluster4('v4')
    cl.channel(A, B, 0.0)
    cl.channel(C, B, 0.001)     # charlie dials bravo
    cl.channel(A, C, 0.002, mp=MP(wide=2, str8=True, map16=True))
    # 1: alpha→bravo; fiss near the wrap so the response crosses it; the
    #    request in two segments, the first retransmitted before the handoff;
    #    a lost return segment (SACKed dup-acks, identical retransmission)
    handoff(cl, A, B, '10.77.5.1', 40001, 0.01, path='/img/logo.png', parts=2, size=30000,
            fiss=0xFFFFC000, biss=0x00001000, cts=0xFFFFFF00, retrans_pre=True, lose=(5,),
            close='server-fin', reqcfg={'segmode': 'split'}, ctos=0x28, cttl=57)
    # 2: bravo→alpha (FE is the acceptor of that channel): wsF 9, wsB 4, keep-alives,
    #    the client closes; Windows-like option layout
    handoff(cl, B, A, '10.77.5.2', 50123, 0.02, path='/api/v1/items?id=7', wsF=9, wsB=4,
            clayout='windows', keepalive=True, close='client-fin', size=9000,
            reqcfg={'extra': True, 'shuffle': 11}, ackcfg={'shuffle': 5})
    # 3: alpha→charlie: no timestamps at all (client offers none), BE with no
    #    window scaling (wsB absent, wsF 7), closed by the client's RST
    handoff(cl, A, C, '10.77.5.3', 33333, 0.03, path='/static/app.js', ts=False, wsB=None,
            close='client-rst', size=12000, reqcfg={'nil': True}, ackcfg={'nil': True, 'extra': True})
    # 4: charlie→bravo: client sends no window scale (ws absent both sides),
    #    frames coalesced, ends by timeout
    #    frames coalesced, ends by timeout; then the client sends again and the
    #    FE's own TCP resets it (a RST from the VIP that is no leak)
    handoff(cl, C, B, '10.77.5.4', 40404, 0.04, path='/img/big.jpg', cws=None, close='timeout',
            size=4000, reqcfg={'segmode': 'join-next'}, req_mp=MP(wide=1), stray_after=True)
    ping_pong(cl, C, B, 0.0405, 1)
    # 5: alpha→bravo again on the same channel: second request + its retransmission after the handoff
    #    a big request (3 segments; the handoff-req spans TCP segments), BE TS near the wrap,
    #    two non-adjacent losses (two SACK blocks)
    handoff(cl, A, B, '10.77.5.1', 40002, 0.05, path='/img/b.png', second_req=True, retrans_post=True,
            close='client-fin', req_mp=MP(wide=3, str8=True), ackcfg={'segmode': 'join-next'},
            ack_mp=MP(map16=True), parts=3, req_extra=b'Cookie: ' + b'k' * 3000 + b'\r\n',
            bts_off=0xFFFFFFF0, lose=(1, 3), size=8000)
    ping_pong(cl, A, B, 0.0505, 9)
    # 6: bravo→charlie, BE resets the connection
    handoff(cl, B, C, '10.77.5.5', 41000, 0.06, path='/img/c.gif', close='be-rst', size=2000,
            retrans_req_after=True)
    # 6b: the same client port again later (a new connection on a closed 4-tuple), another FE/BE
    handoff(cl, C, A, '10.77.5.5', 41000, 0.2, path='/img/again.gif', size=3000)
    # 7: nack: charlie asks alpha, alpha refuses, charlie serves it
    fallback(cl, C, A, '10.77.5.6', 42000, 0.07)
    # 8: local service at bravo; a local connection closed by a RST from the VIP
    local(cl, B, '10.77.5.7', 43000, 0.075)
    local(cl, A, '10.77.5.7', 43001, 0.078, close_rst=True)
    # 9: plain TCP (one bad checksum) and UDP distractors
    plain_tcp(cl, '10.77.5.8', 44000, '10.77.9.9', 443, 0.08, badsum=True)
    udp_noise(cl, '10.77.5.8', '10.77.9.53', 0.081)
    cl.finish()
    return cl


def scenario_v6():
    cl, A, B, C = cluster4('v6', ctl6=True)
    cl.channel(B, A, 0.0)
    handoff(cl, A, B, 'fd77:77:5::1', 40001, 0.01, path='/img/v6.png', size=20000, lose=(3, 4),
            fiss=0x7FFFFFF0, biss=0xFFFFFFF0, reqcfg={'segmode': 'split'})
    handoff(cl, B, A, 'fd77:77:5::2', 40002, 0.02, path='/api/six', ts=False, wsF=2, wsB=11,
            close='client-fin', size=7000)
    handoff(cl, A, C, 'fd77:77:5::3', 40003, 0.03, path='/x', cws=None, close='client-rst', size=1000,
            reqcfg={'nil': True, 'shuffle': 3})
    local(cl, C, 'fd77:77:5::4', 40004, 0.04)
    plain_tcp(cl, 'fd77:77:5::5', 40005, 'fd77:99::443', 443, 0.05)
    udp_noise(cl, 'fd77:77:5::5', 'fd77:99::53', 0.051)
    cl.finish()
    return cl


def scenario_dual():
    """A dual-stack cluster: the control channel over IPv4 carries an IPv6 handoff."""
    cl, A, B, C = cluster4('dual')
    cl.channel(A, B, 0.0)
    handoff(cl, A, B, 'fd77:77:5::9', 40009, 0.01, path='/img/dual.png', size=5000)
    handoff(cl, A, B, '10.77.5.9', 40010, 0.02, path='/img/dual4.png', size=5000)
    cl.finish()
    return cl


def scenario_edges():
    """Handshake retransmissions, node clocks ('at') far from the capture's,
    64-bit and 16/32-bit MessagePack forms, a control segment resent."""
    cl, A, B, C = cluster4('edges')
    cl.at_skew = {'alpha': 3 * 3600.0, 'bravo': -120.0}
    cl.channel(A, B, 0.0, mp=MP(wide=4))
    cl.channel(C, A, 0.0, mp=MP(big=True))
    handoff(cl, A, B, '10.77.7.1', 40001, 0.01, syn_retrans=True, size=4000, reqcfg={'dup': True})
    handoff(cl, B, A, '10.77.7.2', 40002, 0.02, synack_retrans=True, size=4000, close='client-fin')
    handoff(cl, C, A, '10.77.7.3', 40003, 0.03, synack_retrans=True, syn_retrans=True, size=4000, wsF=3, wsB=8)
    handoff(cl, A, C, 'fd77:77:7::4', 40004, 0.04, size=4000, close='client-rst')
    cl.finish()
    return cl


def scenario_names():
    """Node names with hyphens, hids not of the form fe/n, a VIP port that is not 80."""
    cl = Cluster('names')
    A = cl.node('web-1', '10.77.0.31', '02:00:0a:4d:00:1f')
    B = cl.node('web-2', '10.77.0.32', '02:00:0a:4d:00:20')
    cl.channel(B, A, 0.0)
    handoff(cl, A, B, '10.77.6.1', 50001, 0.01, hid='H:000017', vport=8080, size=5000)
    handoff(cl, B, A, '10.77.6.2', 50002, 0.02, hid='8f3e9c2a-1b', vport=8080, size=5000,
            close='client-fin')
    local(cl, A, '10.77.6.3', 50003, 0.03, vport=8080)
    cl.finish()
    return cl


def scenario_midstream():
    """The capture starts after the channels were set up: no handshake, no hello."""
    cl, A, B, C = cluster4('mid')
    cl.channel(A, B, 0.0)
    cl.channel(B, C, 0.0)
    handoff(cl, A, B, '10.77.5.1', 40001, 0.01, size=5000)
    handoff(cl, B, C, '10.77.5.2', 40002, 0.02, size=5000, close='client-fin')
    handoff(cl, B, A, '10.77.5.3', 40003, 0.03, size=5000)
    cl.finish()
    return cl


def scenario_wrap():
    """§4's arithmetic at its edges: Δ = 0 and τ = 0 (only the addresses
    change), Δ = τ = 2^31, ISNs whose next number wraps to 0, client and VIP
    timestamps wrapping mid-connection, no SACK at all, a BE that announces
    window scale 0 against the FE's 14 and the reverse (the clamp)."""
    cl, A, B, C = cluster4('wrap')
    cl.channel(A, B, 0.0)
    cl.channel(C, A, 0.0)
    # the client's request crosses 2^32; fiss + 1 = 0; Δ = 0, τ = 0; client TSval wraps; no SACK
    handoff(cl, A, B, '10.77.8.1', 40001, 0.01, ciss=0xFFFFFF80, fiss=0xFFFFFFFF, delta=0, tau=0,
            cts=0xFFFFFFF0, sack=False, lose=(1,), size=6000, parts=2)
    # Δ = τ = 2^31 (the serial-number midpoint); the VIP's TSval wraps mid-connection
    handoff(cl, A, B, '10.77.8.2', 40002, 0.02, delta=0x80000000, tau=0x80000000,
            fts_off=(-25) & MASK, size=20000, lose=(2,), close='client-fin')
    # biss + 1 = 0 in the BE's space; the BE's TSval wraps; wsB 0 announced, wsF 14
    handoff(cl, C, A, '10.77.8.3', 40003, 0.03, biss=0xFFFFFFFF, bts_off=(-35) & MASK, wsF=14, wsB=0,
            size=5000)
    # wsF 0 announced, wsB 14: (w << 14) >> 0 clamped to 0xFFFF
    handoff(cl, C, A, 'fd77:77:8::4', 40004, 0.04, wsF=0, wsB=14, size=5000, close='client-fin',
            ciss=0xFFFFFFFF, fiss=0, biss=0x7FFFFFFF)
    # a forwarded ACK and a return data segment whose rewritten checksums are exactly 0x0000
    handoff(cl, A, B, '10.77.8.5', 40005, 0.05, csum0=True, size=5000)
    handoff(cl, A, B, 'fd77:77:8::6', 40006, 0.06, csum0=True, size=5000)
    cl.finish()
    return cl


def scenario_nothandoff():
    """Traffic that is no handoff's, with broken checksums: local service
    and a nacked connection (the FE serves), plain TCP to the VIP's address
    on another port, to a BE's address while a handoff to that BE runs, IPv6;
    and a client port reused: a local connection on the 4-tuple of a finished
    handoff, a handoff on the 4-tuple of a finished local connection."""
    cl, A, B, C = cluster4('nothandoff')
    cl.channel(A, B, 0.0)
    handoff(cl, A, B, '10.77.9.1', 40001, 0.01, size=6000)
    local(cl, A, '10.77.9.2', 40002, 0.012, fe_badsum=True, c_badip=True)
    fallback(cl, C, A, '10.77.9.3', 40003, 0.014, fe_badsum=True, c_badip=True)
    plain_tcp(cl, '10.77.9.4', 40004, A.addr, 22, 0.016, smac=A.mac, badsum=True, badip=True, kind='local')
    plain_tcp(cl, '10.77.9.1', 40005, B.addr, 80, 0.0105, smac=B.mac, badsum=True, badip=True, kind='local')
    plain_tcp(cl, 'fd77:77:9::6', 40006, 'fd77:99::80', 80, 0.018, badsum=True)
    local(cl, A, '10.77.9.1', 40001, 0.5)
    local(cl, B, '10.77.9.7', 40007, 0.02)
    handoff(cl, B, A, '10.77.9.7', 40007, 0.6, size=4000)
    cl.finish()
    return cl


def scenario_midframe():
    """The capture starts inside a control frame: a ping padded with an
    unknown key to three TCP segments, the first of them not captured."""
    cl, A, B, C = cluster4('midframe')
    ch = cl.channel(A, B, 0.0)
    ch.send(0.004, A, msg('ping', A, n=5) + [('pad', bytes(range(256)) * 16)])
    ch.send(0.0045, B, msg('pong', B, n=5))
    handoff(cl, A, B, '10.77.5.1', 40001, 0.01, size=5000)
    handoff(cl, B, A, '10.77.5.2', 40002, 0.02, size=5000, close='client-fin')
    cl.finish()
    return cl


V6 = [False]   # the fault traces' address family (IPv6 on the second round)


def caddr(n):
    return ('fd77:77:5::%d' if V6[0] else '10.77.5.%d') % n


def fault_cluster(fault, **over):
    """Two handoffs on one channel; the second carries the fault."""
    cl, A, B, C = cluster4('f-' + fault, ctl6=V6[0])
    cl.channel(A, B, 0.0)
    handoff(cl, A, B, caddr(1), 40001, 0.01, path='/img/ok.png', size=6000, wsF=7, wsB=5)
    kw = dict(path='/img/f.png', size=9000, wsF=7, wsB=5, fault=fault, hid='alpha/77')
    kw.update(over)
    conn = handoff(cl, A, B, caddr(2), 40002, 0.02, **kw)
    cl.finish()
    return cl, conn


def tag_fwd(pred, change):
    """A fwd_mutate hook: the first forwarded segment matching pred gets change()."""
    done = []

    def hook(conn, orig, fs):
        if done or not pred(orig):
            return None
        done.append(1)
        fs = fs.copy()
        change(conn, fs)
        return fs, 'fault'
    return hook


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else 'spec-traces-out'
    os.makedirs(root, exist_ok=True)
    random.seed(20260301)
    out = Out(root)
    inside = lambda cl: tuple(n + '-inside' for n in cl.nodes)
    inside_views = inside

    # ---- clean traces
    cl = scenario_v4()
    # one LAN file with everything (control on the same interface), pcap µs LE
    out.write_pcap(cl, 'v4-wire.pcap', ['lan', 'lan-ctl'])
    out.add('v4 one LAN pcap (µs, LE)', ['v4-wire.pcap'], 'clean', cl)
    # the same as pcap nano big-endian
    out.write_pcap(cl, 'v4-wire-nano-be.pcap', ['lan', 'lan-ctl'], nano=True, big=True)
    out.add('v4 one LAN pcap (ns, BE)', ['v4-wire-nano-be.pcap'], 'clean', cl)
    # split views as separate files
    os.makedirs(os.path.join(root, 'v4-split'), exist_ok=True)
    out.write_pcap(cl, 'v4-split/client.pcap', ['client'], nano=True)
    out.write_pcap(cl, 'v4-split/lan.pcap', ['lan'], big=True)
    for n in cl.nodes:
        out.write_pcap(cl, 'v4-split/%s-inside.pcap' % n, [n + '-inside'], linktype=LT_RAW)
    out.write_pcap(cl, 'v4-split/control.pcap', ['ctl'])
    split = ['v4-split/client.pcap', 'v4-split/lan.pcap'] + \
        ['v4-split/%s-inside.pcap' % n for n in cl.nodes] + ['v4-split/control.pcap']
    out.add('v4 split views, one pcap each', split, 'clean', cl)
    out.add('v4 client + control only', ['v4-split/client.pcap', 'v4-split/control.pcap'], 'clean', cl)
    # split views as pcapng interfaces (LAN without control, control separate); nanosecond client iface
    out.write_pcapng(cl, 'v4-views.pcapng', ['client', 'lan', *inside(cl), 'ctl'], nano_views=('client',))
    out.add('v4 pcapng, one interface per view', ['v4-views.pcapng'], 'clean', cl,
            infer=['v4-views-nocontrol.pcapng'], replay=True)
    out.write_pcapng(cl, 'v4-views-nocontrol.pcapng', ['client', 'lan', *inside(cl)])
    out.write_pcapng(cl, 'v4-views-be.pcapng', ['client', ('lan', 'lan-ctl')], big=True)
    out.add('v4 big-endian pcapng: client + LAN with control', ['v4-views-be.pcapng'], 'clean', cl)

    # capture hosts with their own clocks: the client's file 0.35 s ahead; the
    # LAN tap also carries the control channel, which a control file holds too
    os.makedirs(os.path.join(root, 'v4-hosts'), exist_ok=True)
    out.write_pcap(cl, 'v4-hosts/client.pcap', ['client'], offset=0.35)
    out.write_pcap(cl, 'v4-hosts/lan.pcap', ['lan', 'lan-ctl'])
    out.write_pcap(cl, 'v4-hosts/control.pcap', ['ctl'])
    for n in cl.nodes:
        out.write_pcap(cl, 'v4-hosts/%s-inside.pcap' % n, [n + '-inside'], linktype=LT_RAW, offset=0.0021)
    out.add('v4 per-host files: client clock +350 ms, inside +2.1 ms, control on the LAN file and its own',
            ['v4-hosts/client.pcap', 'v4-hosts/lan.pcap', 'v4-hosts/control.pcap'] +
            ['v4-hosts/%s-inside.pcap' % n for n in cl.nodes], 'clean', cl)

    cl = scenario_names()
    out.write_pcapng(cl, 'names-views.pcapng', ['client', 'lan', *inside(cl), 'ctl'],
                     linktypes={n + '-inside': LT_ETHER for n in cl.nodes})
    out.add('hyphenated node names, free-form hids, VIP port 8080, Ethernet inside views',
            ['names-views.pcapng'], 'clean', cl, replay=True)

    cl = scenario_edges()
    out.write_pcapng(cl, 'edges-views.pcapng', ['client', 'lan', *inside(cl), 'ctl'])
    out.add('SYN and SYN/ACK retransmitted, node clocks hours off, uint64/str16/bin32/map32 msgpack, a control segment resent',
            ['edges-views.pcapng'], 'clean', cl, infer=['edges-views-nocontrol.pcapng'], replay=True)
    out.write_pcapng(cl, 'edges-views-nocontrol.pcapng', ['client', 'lan', *inside(cl)])
    out.write_pcap(cl, 'edges-wire.pcap', ['lan', 'lan-ctl'], nano=True)
    out.add('the same, one LAN pcap', ['edges-wire.pcap'], 'clean', cl)

    cl = scenario_midstream()
    out.write_pcapng(cl, 'midstream-views.pcapng', ['client', 'lan', *inside(cl), 'ctl'], start=0.005)
    out.add('control channels captured mid-stream (no handshake, no hello)',
            ['midstream-views.pcapng'], 'clean', cl, replay=True)

    cl = scenario_midframe()
    out.write_pcapng(cl, 'midframe-views.pcapng', ['client', 'lan', *inside(cl), 'ctl'], start=0.00401)
    out.add('the capture starts inside a control frame (the first of its three segments not captured)',
            ['midframe-views.pcapng'], 'clean', cl)

    cl = scenario_v6()
    out.write_pcap(cl, 'v6-wire.pcap', ['lan', 'lan-ctl'], nano=True)
    out.add('v6 one LAN pcap', ['v6-wire.pcap'], 'clean', cl)
    out.write_pcapng(cl, 'v6-views.pcapng', ['client', 'lan', *inside(cl), 'ctl'])
    out.add('v6 pcapng, one interface per view', ['v6-views.pcapng'], 'clean', cl,
            infer=['v6-views-nocontrol.pcapng'], replay=True)
    out.write_pcapng(cl, 'v6-views-nocontrol.pcapng', ['client', 'lan', *inside(cl)])

    # the node-inside views and the control channel only (no client side, no LAN)
    cl = scenario_v4()
    out.write_pcapng(cl, 'v4-inside.pcapng', [*inside(cl), 'ctl'])
    out.add('v4 node-inside views + control only', ['v4-inside.pcapng'], 'clean', None)

    cl = scenario_wrap()
    out.write_pcapng(cl, 'wrap-views.pcapng', ['client', 'lan', *inside(cl), 'ctl'])
    out.add('Δ = τ = 0, Δ = τ = 2^31, ISNs and timestamps wrapping, no SACK, wsB 0 vs wsF 14 and wsF 0 vs wsB 14 (clamp)',
            ['wrap-views.pcapng'], 'clean', cl, infer=['wrap-views-nocontrol.pcapng'], replay=True)
    # --infer does not take a Δ of 0 for a handoff (forwarded copies with the client's own numbers are an
    # address translator's): the other three are found
    out.traces[-1]['inferHandoffs'] -= 1
    out.write_pcapng(cl, 'wrap-views-nocontrol.pcapng', ['client', 'lan', *inside(cl)])
    out.clean_elsewhere(cl, 'wrap')

    cl = scenario_nothandoff()
    out.write_pcapng(cl, 'nothandoff-views.pcapng', ['client', 'lan', *inside(cl), 'ctl'])
    out.add('no handoff\'s traffic with bad checksums (local, nacked, plain to the VIP\'s address and to a BE\'s, IPv6); client ports reused between a handoff and a local connection',
            ['nothandoff-views.pcapng'], 'clean', cl)
    out.clean_elsewhere(cl, 'nothandoff')

    cl = scenario_dual()
    out.write_pcapng(cl, 'dual-views.pcapng', ['client', 'lan', *inside(cl), 'ctl'])
    out.add('dual stack: IPv6 handoff over an IPv4 channel', ['dual-views.pcapng'], 'clean', cl, replay=True)

    # ---- must-not-fire traces
    cl, A, B, C = cluster4('nofire-partial')
    cl.channel(A, B, 0.0)
    handoff(cl, A, B, '10.77.5.1', 40001, 0.01, size=8000, be_partial=True, client_partial=True)
    cl.finish()
    out.write_pcapng(cl, 'nofire-offload.pcapng', ['client', 'lan', *inside(cl), 'ctl'])
    out.add('partial checksums left by offload on the sending host (outbound, flagged)',
            ['nofire-offload.pcapng'], 'clean', cl)

    for n in cl.nodes:
        out.write_pcap(cl, 'nofire-offload-%s-inside.pcap' % n, [n + '-inside'], linktype=LT_RAW)
    out.write_pcap(cl, 'nofire-offload-client.pcap', ['client'])
    out.write_pcap(cl, 'nofire-offload-lan.pcap', ['lan'])
    out.write_pcap(cl, 'nofire-offload-control.pcap', ['ctl'])
    out.add('partial checksums left by offload on the sending host, pcap files (no direction flag)',
            ['nofire-offload-client.pcap', 'nofire-offload-lan.pcap', 'nofire-offload-control.pcap'] +
            ['nofire-offload-%s-inside.pcap' % n for n in cl.nodes], 'clean', cl)

    cl, A, B, C = cluster4('nofire-misc')
    cl.channel(A, B, 0.0)
    handoff(cl, A, B, '10.77.5.1', 40001, 0.01, size=3000, close='client-rst-noack')
    handoff(cl, A, B, '10.77.5.2', 40002, 0.02, size=3000, second_req=True, fwd_loss=True, close='client-fin')
    handoff(cl, B, A, '10.77.5.3', 40003, 0.03, size=3000, close='timeout', inflight=True)
    cl.finish()
    out.write_pcapng(cl, 'nofire-misc.pcapng', ['client', 'lan', *inside(cl), 'ctl'])
    out.add('RST without ACK (stale ack field), BE SACK blocks on the return leg, a segment forwarded just before the terminate arrived',
            ['nofire-misc.pcapng'], 'clean', cl, replay=True)

    # TSecr 0 after the handoff: the VIP-space TSval the client sees wraps to
    # exactly 0 on the first return segment; §4 leaves a TSecr of 0 alone
    def tsecr0(fts_off):
        random.seed(777)
        cl, A, B, C = cluster4('nofire-tsecr0')
        cl.channel(A, B, 0.0)
        conn = handoff(cl, A, B, '10.77.5.1', 40001, 0.01, size=3000, fts_off=fts_off)
        cl.finish()
        return cl, conn
    cl, conn = tsecr0(0)
    first = [f for f in cl.rec.frames if f['view'] == 'client' and f['ip'][12:16] == ipb(conn.vip) and len(f['ip']) > 60
             and f['ip'][33] & ACK and not f['ip'][33] & SYN]
    v = struct.unpack('!I', first[0]['ip'][20 + 24:20 + 28])[0]   # TSval (NOP NOP TS after the 20-byte header)
    cl, conn = tsecr0((-v) & MASK)
    assert any(struct.unpack('!I', f['ip'][20 + 28:20 + 32])[0] == 0 for f in cl.rec.frames
               if f['view'] == 'client' and f['ip'][12:16] == ipb('10.77.5.1') and f['ip'][20 + 12] >> 4 == 8), 'a TSecr of 0'
    out.write_pcapng(cl, 'nofire-tsecr0.pcapng', ['client', 'lan', *inside(cl), 'ctl'])
    out.add('the client echoes a TSecr of 0 after the handoff (the TSval it saw wrapped to 0): forwarded as 0',
            ['nofire-tsecr0.pcapng'], 'clean', cl)
    random.seed(20260302)

    cl, A, B, C = cluster4('nofire-bsd-keepalive')
    cl.channel(A, B, 0.0)
    handoff(cl, A, B, '10.77.5.1', 40001, 0.01, size=3000, keepalive=True, bsd_keepalive=True)
    cl.finish()
    out.write_pcapng(cl, 'nofire-bsd-keepalive.pcapng', ['client', 'lan', *inside(cl), 'ctl'])
    out.add('a BSD keep-alive from the BE (one garbage octet at snd_nxt − 1)',
            ['nofire-bsd-keepalive.pcapng'], 'clean', cl)

    for fam6 in (False, True):
        V6[0] = fam6
        random.seed(20260303 + fam6)
        # ---- one fault per check id (IPv4: at four vantage sets; IPv6: every view)
        os.makedirs(os.path.join(root, 'lan-only'), exist_ok=True)
        os.makedirs(os.path.join(root, 'client-only'), exist_ok=True)
        os.makedirs(os.path.join(root, 'infer'), exist_ok=True)

        def fault(fid, fname, cl, conn, note, tagkeys=('"fault"',), exit_code=1, client='yes', lan='yes', inner=None, infer='yes'):
            """Writes the fault three times: every view (pcapng); one LAN pcap
            holding everything; the client side and the control channel only. From
            the client side a fault on the forwarded leg or in the BE's raw
            segments cannot be seen (client='no': nothing may be reported), some
            only arguably (client='maybe': the id or nothing)."""
            def pick(fm):
                fr = []
                for k in tagkeys:
                    fr += fm.get(k, [])
                return fr
            if V6[0]:
                fname = fname.replace('.pcapng', '-v6.pcapng')
                note = 'IPv6: ' + note
            fm = out.write_pcapng(cl, fname, ['client', 'lan', *inside(cl), 'ctl'])
            out.add('fault ' + fid + ': ' + note, [fname], 'fault', None, check=dict(id=fid, hid=conn.hid,
                    exit=exit_code), frames=pick(fm))
            if V6[0]:
                return
            lname = 'lan-only/' + fname.replace('.pcapng', '.pcap')
            fm = out.write_pcap(cl, lname, ['lan', 'lan-ctl'])
            if lan == 'no':
                out.add('fault ' + fid + ' (one LAN pcap: invisible there): ' + note, [lname], 'clean', None)
            else:
                out.add('fault ' + fid + ' (one LAN pcap): ' + note, [lname], 'fault', None,
                        check=dict(id=fid, hid=conn.hid, exit=exit_code, optional=lan == 'maybe'), frames=pick(fm))
            # without the control channel, with --infer: the packet faults are
            # still found; the ids only the control messages feed are not judged
            iname = 'infer/' + fname
            fm = out.write_pcapng(cl, iname, ['client', 'lan', *inside(cl)])
            if fid in ('isn-mismatch', 'request-replay', 'handoff-orphan', 'late-forward', 'control-framing') or \
                    'control' in fname or infer == 'no':
                out.add('fault ' + fid + ' (no control channel, --infer: not judged): ' + note, [iname], 'clean', None,
                        flags=['--infer'])
            else:
                out.add('fault ' + fid + ' (no control channel, --infer): ' + note, [iname], 'fault', None,
                        check=dict(id=fid, hid=None, exit=exit_code), frames=pick(fm), flags=['--infer'])
            if inner is not None:
                # the node-inside views and the control channel only (§7: judged packet by packet there)
                os.makedirs(os.path.join(root, 'inside-only'), exist_ok=True)
                nname = 'inside-only/' + fname
                fm = out.write_pcapng(cl, nname, [*inside_views(cl), 'ctl'])
                if inner == 'no':
                    out.add('fault ' + fid + ' (node inside + control: invisible there): ' + note, [nname], 'clean', None)
                else:
                    out.add('fault ' + fid + ' (node inside + control): ' + note, [nname], 'fault', None,
                            check=dict(id=fid, hid=conn.hid, exit=exit_code), frames=pick(fm))
            cname = 'client-only/' + fname
            fm = out.write_pcapng(cl, cname, ['client', 'ctl'])
            if client == 'no':
                out.add('fault ' + fid + ' (client + control: invisible there): ' + note, [cname], 'clean', None)
            else:
                out.add('fault ' + fid + ' (client + control): ' + note, [cname], 'fault', None,
                        check=dict(id=fid, hid=conn.hid, exit=exit_code, optional=client == 'maybe'),
                        frames=pick(fm))

        bad_ip = lambda conn, fs: setattr(fs, 'ip_csum', 'bad')
        cl, conn = (None, None) if V6[0] else fault_cluster('ip-checksum', fwd_mutate=tag_fwd(lambda s: not s.payload and not s.flags & (FIN | RST), bad_ip))
        cl is None or fault('ip-checksum', 'fault-ip-checksum.pcapng', cl, conn, 'a forwarded ACK with a wrong IPv4 header checksum (the BE drops it)', client='no')

        def bad_tcp(rs):
            rs.l4_csum = 'bad'
        cl, conn = fault_cluster('tcp-checksum', mutate_at={3: dict(mutate=bad_tcp, tag='fault')})
        fault('tcp-checksum', 'fault-tcp-checksum.pcapng', cl, conn, 'a return data segment with a wrong TCP checksum (the client drops it; SACK, retransmission)')

        bad_tcp_fwd = lambda conn, fs: setattr(fs, 'l4_csum', 'bad')
        cl, conn = fault_cluster('tcp-checksum', fwd_mutate=tag_fwd(lambda s: not s.payload and not s.flags & (FIN | RST), bad_tcp_fwd))
        fault('tcp-checksum', 'fault-tcp-checksum-fwd.pcapng', cl, conn, 'a forwarded ACK with a wrong TCP checksum (the BE drops it)', client='no', inner='no')

        if not V6[0]:
            def bad_ip_ret(rs):
                rs.ip_csum = 'bad'
            cl, conn = fault_cluster('ip-checksum', mutate_at={3: dict(mutate=bad_ip_ret, tag='fault')})
            fault('ip-checksum', 'fault-ip-checksum-ret.pcapng', cl, conn,
                  'a return data segment with a wrong IPv4 header checksum (the client drops it; SACK, retransmission)', inner='no')

        def port(conn, fs):
            fs.dport = 8080
        cl, conn = fault_cluster('addr-rewrite', fwd_mutate=tag_fwd(lambda s: not s.payload and not s.flags & (FIN | RST), port))
        fault('addr-rewrite', 'fault-addr-rewrite.pcapng', cl, conn, 'a forwarded ACK whose destination port changed', client='maybe')

        def fe_mac(conn, fs):
            fs.dmac = conn.fe.mac
        cl, conn = fault_cluster('addr-rewrite', fwd_mutate=tag_fwd(lambda s: not s.payload and not s.flags & (FIN | RST), fe_mac))
        fault('addr-rewrite', 'fault-addr-rewrite-mac.pcapng', cl, conn,
              'a forwarded ACK to the BE address but the FE\'s own MAC (§4: bmac in the lab); --infer reads bmac from those frames: not judged',
              client='no', inner='no', infer='no')

        def seq1(rs):
            rs.seq = (rs.seq + 1) & MASK
        cl, conn = fault_cluster('seq-remap', mutate_at={'ack': dict(mutate=seq1, tag='fault')})
        fault('seq-remap', 'fault-seq-remap.pcapng', cl, conn, 'the BE\'s pure ACK of the request returned with seq − Δ + 1', client='maybe', lan='maybe')

        cl, conn = fault_cluster('seq-remap', ret_seq_off=1000, close='timeout')
        fault('seq-remap', 'fault-seq-remap-all.pcapng', cl, conn, 'every return segment with seq − Δ + 1000 (a wrong Δ at the BE)', inner='no')

        cl, conn = fault_cluster('seq-remap', mutate_at={2: dict(mutate=seq1, tag='fault', lost='client-drops')})
        fault('seq-remap', 'fault-seq-remap-data.pcapng', cl, conn, 'a return data segment with seq − Δ + 1 (the client cannot use it; the BE resends it, right)',
              inner='no')

        def ack1(conn, fs):
            fs.ack = (fs.ack - 1) & MASK
        cl, conn = fault_cluster('ack-remap', fwd_mutate=tag_fwd(lambda s: not s.payload and not s.flags & (FIN | RST) and not opt_get(s.opts, 'sack'), ack1))
        fault('ack-remap', 'fault-ack-remap.pcapng', cl, conn, 'a forwarded ACK with ack + Δ − 1', client='no', inner='no')

        def sack_raw(conn, fs):
            fs.opts = [('sack', opt_get(conn_orig[0].opts, 'sack')[1]) if o[0] == 'sack' else o for o in fs.opts]
        conn_orig = [None]

        def sack_pred(s):
            if opt_get(s.opts, 'sack'):
                conn_orig[0] = s
                return True
            return False
        cl, conn = fault_cluster('sack-remap', lose=(2,), fwd_mutate=tag_fwd(sack_pred, sack_raw))
        fault('sack-remap', 'fault-sack-remap.pcapng', cl, conn, 'a forwarded dup-ack whose SACK block was not translated', client='no', inner='no')

        def tsecr_raw(conn, fs):
            o = opt_get(fs.opts, 'ts')
            fs.opts = opt_set(fs.opts, 'ts', ('ts', o[1], (o[2] - conn.x.tau) & MASK))
        cl, conn = fault_cluster('ts-remap', fwd_mutate=tag_fwd(lambda s: not s.payload and not s.flags & (FIN | RST), tsecr_raw))
        fault('ts-remap', 'fault-ts-remap-tsecr.pcapng', cl, conn, 'a forwarded ACK whose TSecr was not translated', client='no', inner='no')

        def tsback(rs):
            o = opt_get(rs.opts, 'ts')
            rs.opts = opt_set(rs.opts, 'ts', ('ts', (o[1] - 40) & MASK, o[2]))
        cl, conn = fault_cluster('ts-remap', mutate_at={4: dict(mutate=tsback, tag='fault', lost='client-drops')})
        fault('ts-remap', 'fault-ts-remap-paws.pcapng', cl, conn, 'a return segment whose TSval goes 40 back (the client drops it, PAWS; retransmitted)')

        # the BE's clock 2^30 behind the FE's: what the client sees goes back at the first return segment
        cl, conn = fault_cluster('ts-remap', ret_ts_raw=True, fts_off=0x40000000, bts_off=0, close='timeout')
        fault('ts-remap', 'fault-ts-remap-raw.pcapng', cl, conn, 'every return TSval left untranslated (the BE\'s clock behind the FE\'s)', inner='no')

        cl, conn = fault_cluster('synack-leak', leak_raw=True)
        fault('synack-leak', 'fault-synack-leak-raw.pcapng', cl, conn, 'the BE\'s SYN/ACK reached the client unrewritten (from the BE address); the client resets it')

        cl, conn = fault_cluster('stream-gap-content', gap_content=True)
        fault('stream-gap', 'fault-stream-gap-content.pcapng', cl, conn, 'a return segment resent with one byte different')

        for kind in (('tcp',) if V6[0] else ('ip', 'tcp')):
            cl, A, B, C = cluster4('f-ctl-' + kind, ctl6=V6[0])
            ch = cl.channel(A, B, 0.0)
            conn = handoff(cl, A, B, caddr(1), 40001, 0.01, size=6000)
            ch.send(0.05, A, msg('ping', A, n=12), tag='fault', bad=kind)
            ch.send(0.0502, B, msg('pong', B, n=12))
            cl.finish()
            conn.hid = None
            fault(kind + '-checksum', 'fault-control-%s-checksum.pcapng' % kind, cl, conn,
                  'a control segment (a ping) with a wrong %s checksum, resent by the sender' % kind.upper())

        def raw_window(rs):
            rs.win = rs.raw_win   # the BE's own window, carried over unscaled
        cl, conn = fault_cluster('window-rescale', mutate_at={2: dict(mutate=raw_window, tag='fault')})
        fault('window-rescale', 'fault-window-rescale.pcapng', cl, conn, 'wsB 5 ≠ wsF 7 and one return window not rescaled', exit_code=0, client='no', lan='no', inner='no')

        cl, conn = fault_cluster('rst-leak')
        fault('rst-leak', 'fault-rst-leak.pcapng', cl, conn, 'the FE\'s own RST (from the VIP) reached the client after the handoff', inner='no')

        cl, conn = fault_cluster('rst-leak-local')
        fault('rst-leak', 'fault-rst-leak-local.pcapng', cl, conn, 'the FE\'s local reset (seq ciss + 1, ack fiss + 1) reached the client from the VIP', inner='no')

        cl, conn = fault_cluster('synack-leak')
        fault('synack-leak', 'fault-synack-leak.pcapng', cl, conn, 'the BE\'s SYN/ACK (return-rewritten) reached the client; the client ACKs it')

        cl, conn = fault_cluster('isn-mismatch')
        fault('isn-mismatch', 'fault-isn-mismatch.pcapng', cl, conn, 'handoff-req ciss one above the client\'s SYN', tagkeys=('["req", "alpha/77"]',), inner='yes')

        cl, conn = fault_cluster('isn-mismatch-fiss')
        fault('isn-mismatch', 'fault-isn-mismatch-fiss.pcapng', cl, conn, 'handoff-req fiss one above the FE\'s SYN/ACK (the nodes rewrite with the true ISNs)',
              tagkeys=('["req", "alpha/77"]',), inner='yes')

        cl, conn = fault_cluster('isn-mismatch-biss')
        fault('isn-mismatch', 'fault-isn-mismatch-biss.pcapng', cl, conn, 'handoff-ack biss one above the BE\'s SYN/ACK (the nodes rewrite with the true ISNs)',
              tagkeys=('["ack", "alpha/77"]',), client='no', inner='yes')

        cl, conn = fault_cluster('request-replay')
        fault('request-replay', 'fault-request-replay.pcapng', cl, conn, 'one request byte in pkts differs from the client\'s', tagkeys=('["req", "alpha/77"]',))

        cl, conn = fault_cluster('request-replay-missing', parts=2)
        fault('request-replay', 'fault-request-replay-missing.pcapng', cl, conn, 'pkts lack the request\'s second segment',
              tagkeys=('["req", "alpha/77"]',), inner='no')

        cl, conn = fault_cluster('stream-gap', lose=(3,), lose_how='btcp')
        fault('stream-gap', 'fault-stream-gap.pcapng', cl, conn, 'a return segment the BE\'s BTCP never sends (nor its retransmission): a hole; the BE resets')

        cl, conn = fault_cluster('option-mismatch', bmss=1400)
        fault('option-mismatch', 'fault-option-mismatch.pcapng', cl, conn, 'the BE announced mss 1400, the FE 1460', exit_code=0, inner='yes')
        if not V6[0]:
            out.add('fault option-mismatch with --fail-on warning: exit 1', ['fault-option-mismatch.pcapng'], 'fault', None,
                    check=dict(id='option-mismatch', hid=conn.hid, exit=1), flags=['--fail-on', 'warning'])

        cl, conn = fault_cluster('option-mismatch', be_ts=False)
        fault('option-mismatch', 'fault-option-mismatch-ts.pcapng', cl, conn,
              'the FE announced timestamps, the BE none (τ undefined: no TSval/TSecr translated)', exit_code=0)

        cl, conn = fault_cluster('option-mismatch', be_sack=False, lose=(2,))
        fault('option-mismatch', 'fault-option-mismatch-sack.pcapng', cl, conn,
              'the FE announced SACK, the BE not (the client\'s SACK blocks still forwarded + Δ)', exit_code=0)

        cl, conn = fault_cluster('handoff-orphan')
        fault('handoff-orphan', 'fault-handoff-orphan-req.pcapng', cl, conn, 'a handoff-req never answered (the FE serves after a timeout)', tagkeys=('["req", "alpha/77"]',))

        cl, A, B, C = cluster4('f-orphan-term', ctl6=V6[0])
        ch = cl.channel(A, B, 0.0)
        conn = handoff(cl, A, B, caddr(1), 40001, 0.01, size=6000)
        ch.send(0.05, B, msg('terminate', B, hid='alpha/4242', reason='timeout', cbytes=0, sbytes=0), tag='fault')
        cl.finish()
        conn.hid = 'alpha/4242'
        fault('handoff-orphan', 'fault-handoff-orphan-term.pcapng', cl, conn, 'a terminate for a hid never requested')

        for kind in ('ack', 'nack'):
            cl, A, B, C = cluster4('f-orphan-' + kind, ctl6=V6[0])
            ch = cl.channel(A, B, 0.0)
            conn = handoff(cl, A, B, caddr(1), 40001, 0.01, size=6000)
            if kind == 'ack':
                m = msg('handoff-ack', B, hid='alpha/4343', biss=123456789, bts=987654,
                        bopt={'mss': 1460, 'ws': 7, 'sack': True, 'ts': True}, baddr=ipstr(B.svc(V6[0])), bmac=B.mac)
            else:
                m = msg('handoff-nack', B, hid='alpha/4343', err='no capacity')
            ch.send(0.05, B, m, tag='fault')
            cl.finish()
            conn.hid = 'alpha/4343'
            fault('handoff-orphan', 'fault-handoff-orphan-%s.pcapng' % kind, cl, conn, 'a handoff-%s for a hid never requested' % kind)

        cl, conn = fault_cluster('late-forward', close='client-fin')
        fault('late-forward', 'fault-late-forward.pcapng', cl, conn, 'the FE forwards the client\'s final ACK again after the terminate', exit_code=0, client='no', inner='yes')

        for variant, raw, segmode, note in (
                ('wrongtype', MP().enc_map([('v', 1), ('t', 'ping'), ('node', 'alpha'), ('at', 1), ('n', 'seven')]), None, 'a ping whose n is a string'),
                ('notmap', MP().enc([1, 'ping', 'alpha']), None, 'a frame holding an array, not a map'),
                ('nokey', MP().enc_map([('v', 1), ('t', 'ping'), ('at', 1), ('n', 3)]), None, 'a ping without node'),
                ('zerolen', b'\0\0\0\0', 'rawframe', 'a frame of length 0'),
                ('notmsgpack', b'\xc1\xc1\xc1', None, 'a frame whose body is not MessagePack (0xc1 never used)'),
                ('oversize', struct.pack('!I', 1048577) + b'\x80' * 64, 'rawframe', 'a length prefix of 1,048,577 (over 1 MiB)'),
                ('hugelen', b'\xff\xff\xff\xff' + b'\x80' * 64, 'rawframe', 'a length prefix of 2^32 - 1'),
                ('nonstrkey', MP().enc_map([('v', 1), ('t', 'ping'), ('node', 'alpha'), ('at', 1), ('n', 3), (7, 1)]), None,
                 'a map with an integer key (§3: string keys)'),
                ('ext', MP().enc_map([('v', 1), ('t', 'ping'), ('node', 'alpha'), ('at', 1)]).replace(b'\x84', b'\x85', 1) +
                 MP().enc('n') + b'\xd4\x01\x05', None, 'a ping whose n is an extension type (fixext 1)'),
                ('trailing', MP().enc_map([('v', 1), ('t', 'ping'), ('node', 'alpha'), ('at', 1), ('n', 3)]) + b'\xc0', None,
                 'a frame holding a map and one more value (nil) after it'),
                ('negint', MP().enc_map([('v', 1), ('t', 'ping'), ('node', 'alpha'), ('at', 1), ('n', 0)])[:-1] + b'\xff', None,
                 'a ping whose n is -1 (negative fixint)'),
                ('float', MP().enc_map([('v', 1), ('t', 'ping'), ('node', 'alpha'), ('at', 1), ('n', 0)])[:-1] + b'\xcb' +
                 struct.pack('!d', 3.0), None, 'a ping whose n is a float64'),
                ('uint32over', MP().enc_map([('v', 1), ('t', 'handoff-ack'), ('node', 'bravo'), ('at', 1), ('hid', 'alpha/9'), ('biss', 2 ** 32),
                                             ('bopt', {'mss': 1460, 'sack': True, 'ts': True}), ('baddr', '10.77.0.22'),
                                             ('bmac', '02:00:0a:4d:00:16')]), None, 'a handoff-ack whose biss is 2^32 (not a uint32)'),
                ('nilkey', MP().enc_map([('v', 1), ('t', 'ping'), ('node', 'alpha'), ('at', 1), ('n', None)]), None, 'a ping whose n is nil'),
                ('binstr', MP().enc_map([('v', 1), ('t', 'ping'), ('node', b'alpha'), ('at', 1), ('n', 3)]), None, 'a ping whose node is a bin, not a str'),
                ('termnoreason', MP().enc_map([('v', 1), ('t', 'terminate'), ('node', 'bravo'), ('at', 1), ('hid', 'alpha/1'),
                                               ('cbytes', 1), ('sbytes', 2)]), None, 'a terminate without reason')):
            cl, A, B, C = cluster4('f-framing-' + variant, ctl6=V6[0])
            ch = cl.channel(A, B, 0.0)
            conn = handoff(cl, A, B, caddr(1), 40001, 0.01, size=6000)
            ch.send(0.05, A, None, raw=raw, segmode=segmode, tag='fault')
            ping_pong(cl, A, B, 0.06, 4)
            cl.finish()
            conn.hid = None
            fault('control-framing', 'fault-control-framing-%s.pcapng' % variant, cl, conn, note)
    V6[0] = False

    with open(os.path.join(root, 'manifest.json'), 'w') as f:
        json.dump(dict(generator='spec-gen.py', traces=out.traces), f, indent=1)
    print('wrote %d traces to %s' % (len(out.traces), root))


if __name__ == '__main__':
    main()
