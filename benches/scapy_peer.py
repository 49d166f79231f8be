# The run benchmark's scapy peer (benches/run.rs runs it): builds with scapy the packets of four of the
# generated specs, each input and each expected output, as users do by hand without xdptest. Prints
# one line per scenario (its name, the input in hex, which the benchmark checks against the fixture)
# and last the seconds the building took. Usage: python3 scapy_peer.py SCENARIOS_PER_SPEC
import sys, time
from scapy.all import Ether, Dot1Q, IP, IPv6, UDP, TCP, ICMP, Raw

per = int(sys.argv[1])
Z = "00:00:00:00:00:00"
def eth(src=Z, dst=Z):
    return Ether(src=src, dst=dst)
def ip(**kw):
    return IP(id=0, **kw)

start = time.perf_counter()
out = []
for i in range(per):
    blocked = i % 2 == 0
    src = f"10.{i % 250}.{(i // 250) % 250}.{1 + i % 200}" if blocked else f"198.51.100.{1 + i % 250}"
    p = eth() / ip(src=src, dst="192.168.1.10") / UDP(sport=1024 + i % 60000, dport=53) / Raw(b"\0" * (i % 64))
    sent = bytes(p)
    if not blocked:
        bytes(p)  # the expected output: the input itself
    out.append((f"fw {i}", sent))
for i in range(per):
    p = eth() / Dot1Q(vlan=1 + i % 4000) / ip(src="192.0.2.1", dst="198.51.100.1", ttl=1 + i % 254) / UDP(sport=1, dport=2)
    sent = bytes(p)
    bytes(p)
    out.append((f"count {i}", sent))
for i in range(per):
    data = b"a" * (i % 100)
    ident, seq = 1 + i % 65535, (i * 7) % 65536
    p = eth("00:00:5e:00:53:02", "00:00:5e:00:53:01") / ip(src="192.0.2.10", dst="192.0.2.1") / ICMP(type=8, id=ident, seq=seq) / Raw(data)
    sent = bytes(p)
    bytes(eth("00:00:5e:00:53:01", "00:00:5e:00:53:02") / ip(src="192.0.2.1", dst="192.0.2.10") / ICMP(type=0, id=ident, seq=seq) / Raw(data))
    out.append((f"echo {i}", sent))
for i in range(per):
    k = i % 4
    if k == 0:
        l3 = ip(src=f"198.51.100.{1 + i % 250}", dst="192.0.2.1")
    elif k == 1:
        l3 = IPv6(src=f"2001:db8:1::{1 + i % 65000:x}", dst="2001:db8::1")
    elif k == 2:
        l3 = ip(src=f"203.0.113.{1 + i % 250}", dst="192.0.2.1")
    else:
        l3 = IPv6(src=f"2001:db8:bad::{1 + i % 65000:x}", dst="2001:db8::1")
    p = eth() / l3 / TCP(sport=1024 + i % 60000, dport=443, flags="S", seq=0, window=65535, options=[("MSS", 536 + i % 1000), ("SAckOK", b"")])
    sent = bytes(p)
    if k < 2:
        bytes(p)
    out.append((f"syn {i}", sent))
took = time.perf_counter() - start
for name, b in out:
    print(f"{name}\t{b.hex()}")
print(took)
