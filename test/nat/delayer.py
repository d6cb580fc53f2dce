#!/usr/bin/env python3
# Delays every packet of netfilter queue 0 by argv[1] ms, then accepts it: nfnetlink_queue spoken
# directly over an AF_NETLINK socket, Python stdlib only. The delay is the same for every packet, so
# packets leave in arrival order and one batch verdict ("accept every id up to N") releases all that
# are due. Exits when its stdin closes (the lab went away) or after argv[2] seconds at the latest.
# Usage: delayer.py DELAY_MS LIFETIME_S (run by test/nat/lab.ts inside a router namespace).
import os, select, socket, struct, sys, time
from collections import deque

NETLINK_NETFILTER, SOL_NETLINK, NETLINK_NO_ENOBUFS, SO_RCVBUFFORCE = 12, 270, 5, 33
QUEUE = 0
SUBSYS_QUEUE = 3 << 8
MSG_PACKET, MSG_CONFIG, MSG_VERDICT_BATCH = SUBSYS_QUEUE | 0, SUBSYS_QUEUE | 2, SUBSYS_QUEUE | 3
NLMSG_ERROR, NLM_F_REQUEST, NLM_F_ACK = 2, 1, 4
CFG_CMD, CFG_PARAMS, CFG_QUEUE_MAXLEN, CMD_BIND, COPY_META = 1, 2, 3, 1, 1
PACKET_HDR, VERDICT_HDR, NF_ACCEPT = 1, 2, 1

delay = float(sys.argv[1]) / 1000
deadline = time.monotonic() + float(sys.argv[2])
sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
sock.setsockopt(SOL_NETLINK, NETLINK_NO_ENOBUFS, 1)  # a lost notification is fine: batch verdicts cover its id
sock.bind((0, 0))

def attr(kind, payload):
    data = struct.pack('=HH', 4 + len(payload), kind) + payload
    return data + b'\0' * (-len(data) % 4)

def send(kind, payload, flags=NLM_F_REQUEST):
    body = struct.pack('=BBH', socket.AF_UNSPEC, 0, socket.htons(QUEUE)) + payload  # struct nfgenmsg
    sock.send(struct.pack('=IHHII', 16 + len(body), kind, flags, 0, 0) + body)  # struct nlmsghdr

def configure(payload):
    send(MSG_CONFIG, payload, NLM_F_REQUEST | NLM_F_ACK)
    reply = sock.recv(65536)
    if struct.unpack_from('=H', reply, 4)[0] == NLMSG_ERROR:
        err = -struct.unpack_from('=i', reply, 16)[0]
        if err:
            sys.exit('nfqueue config: ' + os.strerror(err))

configure(attr(CFG_CMD, struct.pack('>BBH', CMD_BIND, 0, socket.AF_INET)))
configure(attr(CFG_PARAMS, struct.pack('>IB', 0, COPY_META)))  # packet ids only, no payload copies
configure(attr(CFG_QUEUE_MAXLEN, struct.pack('>I', 1 << 16)))
print('ready', flush=True)

pending = deque()  # (release time, packet id), oldest first
while time.monotonic() < deadline:
    wait = max(0.0, pending[0][0] - time.monotonic()) if pending else 1.0
    readable = select.select([sock, sys.stdin], [], [], wait)[0]
    if sys.stdin in readable and not os.read(0, 4096):
        break
    now = time.monotonic()
    while sock in readable:
        try:
            data = sock.recv(1 << 16, socket.MSG_DONTWAIT)
        except BlockingIOError:
            break
        at = 0
        while at + 20 <= len(data):  # nlmsghdr + nfgenmsg, then attributes
            length, kind = struct.unpack_from('=IH', data, at)
            a = at + 20
            while kind == MSG_PACKET and a + 4 <= at + length:
                alen, atype = struct.unpack_from('=HH', data, a)
                if atype & 0x3FFF == PACKET_HDR:
                    pending.append((now + delay, struct.unpack_from('>I', data, a + 4)[0]))
                a += max(4, (alen + 3) & ~3)
            at += max(16, (length + 3) & ~3)
    last = None
    while pending and pending[0][0] <= now:
        last = pending.popleft()[1]
    if last is not None:
        send(MSG_VERDICT_BATCH, attr(VERDICT_HDR, struct.pack('>II', NF_ACCEPT, last)))
