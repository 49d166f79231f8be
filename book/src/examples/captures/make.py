# Writes traffic.pcap, the capture the book's `xdptest import` example reads: the kinds of frame a
# capture on a server's uplink holds. Run with scapy installed: python3 make.py
from scapy.all import ARP, DNS, DNSQR, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IP, IPv6, TCP, UDP, Ether, wrpcap

client, server = "00:00:5e:00:53:02", "00:00:5e:00:53:01"
frames = [
    # A Linux client's SYN: the usual options, in the usual order.
    Ether(src=client, dst=server)
    / IP(src="198.51.100.7", dst="192.0.2.1", id=0x4d2e, flags="DF", ttl=64)
    / TCP(sport=40000, dport=443, seq=1000, window=64240,
          options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (2851216, 0)), ("NOP", None), ("WScale", 7)]),
    # A DNS query: its payload is not a layer xdptest knows, so it stays bytes.
    Ether(src=client, dst=server)
    / IP(src="198.51.100.7", dst="192.0.2.53", id=0x1c46)
    / UDP(sport=53124, dport=53)
    / DNS(id=0xbeef, rd=1, qd=DNSQR(qname="example.com")),
    # Captured on the sending host with checksum offload: the TCP checksum is not filled in yet.
    Ether(src=server, dst=client)
    / IP(src="192.0.2.1", dst="198.51.100.7", id=0, flags="DF", ttl=64)
    / TCP(sport=443, dport=40000, seq=5000, ack=1001, flags="SA", window=65160, chksum=0x1234,
          options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1034, 2851216)), ("NOP", None), ("WScale", 7)]),
    # Neighbour discovery and ARP.
    Ether(src=client, dst="33:33:ff:00:00:01")
    / IPv6(src="fe80::2", dst="ff02::1:ff00:1", hlim=255)
    / ICMPv6ND_NS(tgt="2001:db8::1")
    / ICMPv6NDOptSrcLLAddr(lladdr=client),
    Ether(src=client, dst="ff:ff:ff:ff:ff:ff")
    / ARP(op=1, hwsrc=client, psrc="192.0.2.7", pdst="192.0.2.1"),
]
for i, f in enumerate(frames):
    f.time = 1764547200 + i * 0.000250
wrpcap("traffic.pcap", frames)
