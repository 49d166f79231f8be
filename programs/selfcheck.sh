#!/usr/bin/env bash
# selfcheck.sh: build the XDP programs, load each one through the verifier,
# then run packets through BPF_PROG_TEST_RUN (`bpftool prog run`) and assert
# verdicts, output packets and map counters.
#
# Needs root, bpftool, python3 (builds the packets), make + clang.
# The router's FIB paths need iproute2 and `unshare -n`: the whole check
# re-runs itself in a fresh network namespace with a veth pair, routes and a
# static neighbour; without unshare only the FIB-free router paths are checked.
#
# All pins live under one directory in bpffs, removed on exit (trap), even
# on failure. Exit status: 0 when every check passed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ ${XDPTEST_SELFCHECK_NETNS:-} != 1 ]] && command -v unshare >/dev/null &&
	command -v ip >/dev/null && unshare -n true 2>/dev/null; then
	export XDPTEST_SELFCHECK_NETNS=1
	exec unshare -n bash "$0" "$@"
fi

die() { echo "selfcheck: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "must run as root"
for tool in bpftool python3 make; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

PIN=/sys/fs/bpf/xdptest_selfcheck_$$
TMP=$(mktemp -d)
MOUNTED_BPFFS=0
cleanup() {
	rm -rf "$PIN" "$TMP"
	if [[ $MOUNTED_BPFFS == 1 ]]; then umount /sys/fs/bpf || true; fi
}
trap cleanup EXIT

if [[ $(stat -f -c %T /sys/fs/bpf 2>/dev/null) != bpf_fs ]]; then
	mount -t bpf bpf /sys/fs/bpf || die "cannot mount bpffs on /sys/fs/bpf"
	MOUNTED_BPFFS=1
fi

make -C "$HERE" >/dev/null
mkdir -p "$PIN"

PASSED=0
FAILED=0
ok() { PASSED=$((PASSED + 1)); echo "ok    $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL  $*"; }

# ---------------------------------------------------------------------------
# Packet builder / helpers (python3).
cat >"$TMP/pkt.py" <<'PY'
import json, os, struct, sys

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

def mac(s): return bytes.fromhex(s.replace(":", ""))
def ip(s): return bytes(int(x) for x in s.split("."))

def eth(dst, src, etype, tci=None):
    h = mac(dst) + mac(src)
    if tci is not None:
        h += struct.pack("!HH", 0x8100, tci)
    return h + struct.pack("!H", etype)

def ipv4(src, dst, proto, payload, ttl=64, ident=0x1234, frag=0):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag,
                    ttl, proto, 0, ip(src), ip(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

def ipv6_udp(payload):
    udp_part = udp(1000, 2000, payload)
    return (struct.pack("!IHBB", 0x60000000, len(udp_part), 17, 64)
            + bytes(15) + b"\1" + bytes(15) + b"\2" + udp_part)

def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload

def icmp(typ, ident, seq, data):
    h = struct.pack("!BBHHH", typ, 0, 0, ident, seq) + data
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]

def gtpu(teid, payload, mtype=255, seq=None, exts=()):
    """exts: [(type, content)], len(content) + 2 a multiple of 4."""
    flags, opt = 0x30, b""
    if seq is not None or exts:
        flags |= (0x02 if seq is not None else 0) | (0x04 if exts else 0)
        opt = struct.pack("!HBB", seq or 0, 0, exts[0][0] if exts else 0)
        for i, (_, content) in enumerate(exts):
            assert (len(content) + 2) % 4 == 0
            nxt = exts[i + 1][0] if i + 1 < len(exts) else 0
            opt += bytes([(len(content) + 2) // 4]) + content + bytes([nxt])
    body = opt + payload
    return struct.pack("!BBHI", flags, mtype, len(body), teid) + body

A, B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
ARP = eth("ff:ff:ff:ff:ff:ff", A, 0x0806) + bytes(28)
TRUNC_IP = eth(B, A, 0x0800) + bytes([0x45]) + bytes(9)

# UPF sessions: teid -> (ue, peer, teid_out, vlan_out, src_mac, dst_mac)
LOCAL_IP = "192.0.2.1"
S1 = (0x1234, "10.45.0.2", "192.0.2.10", 0xABCD0001, 100,
      "02:00:00:00:01:01", "02:00:00:00:01:02")
S2 = (0x5678, "10.45.0.3", "192.0.2.11", 0x77, 0,
      "02:00:00:00:02:01", "02:00:00:00:02:02")

def cases():
    c = {}  # name -> (input, expected output or None)
    # counter
    c["counter_udp"] = (eth(B, A, 0x0800) + ipv4("1.1.1.1", "2.2.2.2", 17, udp(1, 2, b"x")), None)
    c["counter_vlan_tcp"] = (eth(B, A, 0x0800, tci=10) + ipv4("1.1.1.1", "2.2.2.2", 6, bytes(20)), None)
    c["counter_arp"] = (ARP, None)
    c["counter_trunc"] = (TRUNC_IP, None)
    # firewall
    for name, src, tci in (("fw_blocked_prefix", "10.0.0.7", None),
                           ("fw_blocked_host_vlan", "192.0.2.99", 5),
                           ("fw_allowed", "10.0.1.7", None)):
        p = eth(B, A, 0x0800, tci) + ipv4(src, "2.2.2.2", 17, udp(1, 2, b"x"))
        c[name] = (p, p)
    c["fw_trunc"] = (TRUNC_IP, None)
    c["fw_arp"] = (ARP, ARP)
    # icmp_echo
    for name, tci in (("echo_req", None), ("echo_req_vlan", 42)):
        req = eth(B, A, 0x0800, tci) + ipv4("1.1.1.1", "2.2.2.2", 1, icmp(8, 0x77, 3, b"ping" * 8), ttl=17)
        rep = eth(A, B, 0x0800, tci) + ipv4("2.2.2.2", "1.1.1.1", 1, icmp(0, 0x77, 3, b"ping" * 8), ttl=17)
        c[name] = (req, rep)
    p = eth(B, A, 0x0800) + ipv4("1.1.1.1", "2.2.2.2", 1, icmp(0, 0x77, 3, b"pong"))
    c["echo_reply_in"] = (p, p)
    # upf uplink
    inner4 = ipv4("10.45.0.2", "8.8.8.8", 17, udp(1000, 53, b"query"))
    inner6 = ipv6_udp(b"v6 payload")
    def ul(teid, inner, tci=None, **kw):
        return eth(B, A, 0x0800, tci) + ipv4(S1[2], LOCAL_IP, 17, udp(2152, 2152, gtpu(teid, inner, **kw)))
    c["upf_ul"] = (ul(S1[0], inner4), eth(S1[6], S1[5], 0x0800, tci=100) + inner4)
    c["upf_ul_ext_vlan"] = (
        ul(S1[0], inner6, tci=(5 << 13) | 7, seq=9,
           exts=[(0x85, b"\x00\x01"), (0x40, b"\xaa" * 6)]),
        eth(S1[6], S1[5], 0x86DD, tci=(5 << 13) | 100) + inner6)
    c["upf_ul_untag"] = (ul(S2[0], inner4, tci=7), eth(S2[6], S2[5], 0x0800) + inner4)
    c["upf_ul_unknown_teid"] = (ul(0x9999, inner4), None)
    c["upf_ul_echo_req"] = (ul(0, b"", mtype=1, seq=1), None)
    # upf downlink
    dl_inner = ipv4("8.8.8.8", S1[1], 17, udp(53, 1000, b"answer"))
    def encap(s, inner):
        return ipv4(LOCAL_IP, s[2], 17, udp(2152, 2152, gtpu(s[3], inner)), ident=0, frag=0x4000)
    c["upf_dl"] = (eth(B, A, 0x0800) + dl_inner, eth(S1[6], S1[5], 0x0800, tci=100) + encap(S1, dl_inner))
    dl_inner2 = ipv4("8.8.8.8", S2[1], 6, bytes(20))
    c["upf_dl_tagged_in_untagged_out"] = (eth(B, A, 0x0800, tci=7) + dl_inner2,
                                          eth(S2[6], S2[5], 0x0800) + encap(S2, dl_inner2))
    c["upf_other"] = (eth(B, A, 0x0800) + ipv4("1.1.1.1", "8.8.4.4", 6, bytes(20)), None)
    # router (FIB set up by the shell part: see setup_router_netns)
    fwd = lambda ttl: ipv4("10.99.0.2", "10.98.0.5", 17, udp(1, 2, b"route me"), ttl=ttl)
    c["rt_forward"] = (eth(B, A, 0x0800) + fwd(64),
                       eth("02:00:00:00:00:02", "02:00:00:00:00:01", 0x0800) + fwd(63))
    for name, dst in (("rt_no_neigh", "10.97.0.5"), ("rt_blackhole", "10.96.0.5"),
                      ("rt_no_route", "203.0.113.5")):
        c[name] = (eth(B, A, 0x0800) + ipv4("10.99.0.2", dst, 17, udp(1, 2, b"x")), None)
    p = eth(B, A, 0x0800) + fwd(1)
    c["rt_ttl_expired"] = (p, p)
    c["rt_arp"] = (ARP, ARP)
    return c

def hexb(b): return " ".join("%02x" % x for x in b)
def u32(n): return struct.pack("=I", n)  # host order, as the programs use it

def session(s):
    return (ip(s[1]) + ip(s[2]) + u32(s[3]) + struct.pack("=HH", s[4], 0)
            + mac(s[5]) + mac(s[6]))

def seeds():
    """Lines: <program> <map> <key hex> <value hex>."""
    out = [("firewall", "blocklist", u32(24) + ip("10.0.0.0"), u32(5)),
           ("firewall", "blocklist", u32(32) + ip("192.0.2.99"), u32(7)),
           ("upf", "config", u32(0), ip(LOCAL_IP) + bytes(4))]
    for s in (S1, S2):
        out.append(("upf", "sessions", u32(s[0]), session(s)))
        out.append(("upf", "ue_sessions", ip(s[1]), u32(s[0])))
    for prog, m, k, v in out:
        print(prog, m, hexb(k), "|", hexb(v))

def map_sum():
    """Sum a bpftool -j map lookup/dump result (per-CPU or not) from stdin."""
    data = json.load(sys.stdin)
    total = 0
    for e in data if isinstance(data, list) else [data]:
        vals = [v["value"] for v in e["values"]] if "values" in e else [e["value"]]
        for v in vals:
            total += int.from_bytes(bytes(int(x, 16) for x in v), sys.byteorder)
    print(total)

cmd = sys.argv[1]
if cmd == "gen":
    for name, (inp, exp) in cases().items():
        open(os.path.join(sys.argv[2], name + ".in"), "wb").write(inp)
        if exp is not None:
            open(os.path.join(sys.argv[2], name + ".exp"), "wb").write(exp)
elif cmd == "seeds":
    seeds()
elif cmd == "u32":
    print(hexb(u32(int(sys.argv[2]))))
elif cmd == "sum":
    map_sum()
elif cmd == "diff":
    a, b = open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()
    print("      got:", a.hex())
    print("      exp:", b.hex())
PY
pkt() { python3 "$TMP/pkt.py" "$@"; }
pkt gen "$TMP"

# ---------------------------------------------------------------------------
# Load every program through the verifier, maps pinned beside it.
for obj in "$HERE"/build/*.o; do
	name=$(basename "$obj" .o)
	if bpftool prog loadall "$obj" "$PIN/$name" type xdp pinmaps "$PIN/${name}_maps" \
		>"$TMP/load_$name.log" 2>&1; then
		ok "load $name"
	else
		bad "load $name (verifier log: see below)"
		tail -n 25 "$TMP/load_$name.log"
	fi
done

declare -A VERDICT=([0]=XDP_ABORTED [1]=XDP_DROP [2]=XDP_PASS [3]=XDP_TX [4]=XDP_REDIRECT)

# run CASE OBJ PROG_FUNC WANT_VERDICT: one BPF_PROG_TEST_RUN; compares the
# output packet with CASE.exp when the case has one.
run() {
	local case=$1 obj=$2 fn=$3 want=$4 out got
	if ! out=$(bpftool prog run pinned "$PIN/$obj/$fn" data_in "$TMP/$case.in" \
		data_out "$TMP/$case.out" 2>&1); then
		bad "$case: bpftool prog run failed: $out"
		return
	fi
	got=$(sed -n 's/^Return value: \([0-9]*\).*/\1/p' <<<"$out")
	if [[ ${VERDICT[$got]:-$got} != "$want" ]]; then
		bad "$case: verdict ${VERDICT[$got]:-$got}, want $want"
		return
	fi
	if [[ -f $TMP/$case.exp ]] && ! cmp -s "$TMP/$case.out" "$TMP/$case.exp"; then
		bad "$case: $want but output packet differs"
		pkt diff "$TMP/$case.out" "$TMP/$case.exp"
		return
	fi
	ok "$case -> $want$([[ -f $TMP/$case.exp ]] && echo ' (output packet matches)')"
}

# counter OBJ MAP KEY WANT: sum over CPUs of MAP[KEY] (KEY a u32) equals WANT.
counter() {
	local obj=$1 map=$2 key=$3 want=$4 got
	got=$(bpftool -j map lookup pinned "$PIN/${obj}_maps/$map" key hex $(pkt u32 "$key") |
		pkt sum) || got="(lookup failed)"
	if [[ $got == "$want" ]]; then ok "$map[$key] == $want"; else bad "$map[$key] == $got, want $want"; fi
}

# total OBJ MAP WANT: sum of all entries of MAP equals WANT.
total() {
	local obj=$1 map=$2 want=$3 got
	got=$(bpftool -j map dump pinned "$PIN/${obj}_maps/$map" | pkt sum) || got="(dump failed)"
	if [[ $got == "$want" ]]; then ok "sum($map) == $want"; else bad "sum($map) == $got, want $want"; fi
}

# ---------------------------------------------------------------------------
echo "# seeding maps"
while IFS='|' read -r head value; do
	read -r obj map key <<<"$head"
	bpftool map update pinned "$PIN/${obj}_maps/$map" key hex $key value hex $value ||
		bad "seed $obj/$map"
done < <(pkt seeds)

echo "# counter"
run counter_udp counter xdp_counter XDP_PASS
run counter_vlan_tcp counter xdp_counter XDP_PASS
run counter_arp counter xdp_counter XDP_PASS
run counter_trunc counter xdp_counter XDP_PASS
counter counter proto_count 17 1
counter counter proto_count 6 1
total counter proto_count 2

echo "# firewall"
run fw_blocked_prefix firewall xdp_firewall XDP_DROP
run fw_blocked_host_vlan firewall xdp_firewall XDP_DROP
run fw_allowed firewall xdp_firewall XDP_PASS
run fw_trunc firewall xdp_firewall XDP_DROP
run fw_arp firewall xdp_firewall XDP_PASS
counter firewall rule_hits 5 1
counter firewall rule_hits 7 1
total firewall rule_hits 2

echo "# icmp_echo"
run echo_req icmp_echo xdp_icmp_echo XDP_TX
run echo_req_vlan icmp_echo xdp_icmp_echo XDP_TX
run echo_reply_in icmp_echo xdp_icmp_echo XDP_PASS

echo "# upf"
run upf_ul upf xdp_upf XDP_TX
run upf_ul_ext_vlan upf xdp_upf XDP_TX
run upf_ul_untag upf xdp_upf XDP_TX
run upf_ul_unknown_teid upf xdp_upf XDP_DROP
run upf_ul_echo_req upf xdp_upf XDP_PASS
run upf_dl upf xdp_upf XDP_TX
run upf_dl_tagged_in_untagged_out upf xdp_upf XDP_TX
run upf_other upf xdp_upf XDP_PASS
counter upf stats 0 3
counter upf stats 1 2
counter upf stats 2 1
counter upf stats 3 2

# Private netns: v0 (02:..:01, 10.99.0.1/24) with neighbour 10.99.0.2
# (02:..:02); routes: 10.98/24 via .2, 10.97/24 via .3 (no neighbour),
# blackhole 10.96/24. Test runs see lo as ingress, so forward on all.
setup_router_netns() {
	ip link set lo up &&
	ip link add v0 address 02:00:00:00:00:01 type veth peer name v1 &&
	ip link set v0 up && ip link set v1 up &&
	echo 1 >/proc/sys/net/ipv4/conf/all/forwarding &&
	ip addr add 10.99.0.1/24 dev v0 &&
	ip neigh replace 10.99.0.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent &&
	ip route add 10.98.0.0/24 via 10.99.0.2 &&
	ip route add 10.97.0.0/24 via 10.99.0.3 &&
	ip route add blackhole 10.96.0.0/24
}

echo "# router"
run rt_ttl_expired router xdp_router XDP_PASS
run rt_arp router xdp_router XDP_PASS
if [[ ${XDPTEST_SELFCHECK_NETNS:-} == 1 ]]; then
	if setup_router_netns; then
		v0=$(ip -o link show dev v0 | cut -d: -f1) # sysfs is the host's: ask ip
		bpftool map update pinned "$PIN/router_maps/tx_ports" key hex $(pkt u32 "$v0") \
			value hex $(pkt u32 "$v0") || bad "seed router/tx_ports"
	else
		bad "router netns setup"
	fi
	run rt_forward router xdp_router XDP_REDIRECT
	run rt_no_neigh router xdp_router XDP_PASS
	run rt_blackhole router xdp_router XDP_DROP
	run rt_no_route router xdp_router XDP_PASS
	counter router route_stats 0 1
	counter router route_stats 1 1
	counter router route_stats 2 1
	counter router route_stats 3 1
else
	echo "skip  router FIB paths (no unshare -n / iproute2)"
	counter router route_stats 3 1
fi

echo
echo "selfcheck: $PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
