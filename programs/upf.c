// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_upf: a minimal mobile user-plane function (PGW-U / UPF style).
 *
 * Input: Ethernet, optionally one 802.1Q tag, IPv4.
 *
 * Downlink (checked first): the IPv4 destination is a UE in `ue_sessions`
 *   -> prepend IPv4/UDP/GTP-U towards session.peer_ip, XDP_TX, stats[1].
 * Uplink: IPv4 (not a fragment) / UDP dport 2152 / GTPv1-U G-PDU (type 255)
 *   -> known TEID: strip IPv4/UDP/GTP-U, XDP_TX, stats[0]
 *   -> unknown TEID: XDP_DROP, stats[2]
 * Anything else (incl. other GTP-U message types, truncated or malformed
 * headers, more than 4 GTP-U extension headers) -> XDP_PASS, stats[3].
 *
 * Output L2 in both directions: MACs from the session; tagged with
 * VID = session.vlan_out when vlan_out != 0 (keeping PCP/DEI of the input
 * tag, if there was one), untagged when vlan_out == 0.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef ETH_P_8021Q
#define ETH_P_8021Q 0x8100
#endif
#define IP_DF 0x4000
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

#define GTPU_PORT 2152
#define GTPU_TYPE_GPDU 255
#define GTPU_V1_PT 0x30	/* version 1 (bits 7-5), protocol type GTP (bit 4) */
#define GTPU_E 0x04	/* extension header follows */
#define GTPU_S 0x02	/* sequence number present */
#define GTPU_PN 0x01	/* N-PDU number present */
#define GTPU_MAX_EXT 4	/* extension headers we are willing to skip */

/* stats[] indexes; every packet is counted in exactly one of them */
enum {
	STAT_UPLINK_DECAP = 0,
	STAT_DOWNLINK_ENCAP = 1,
	STAT_UNKNOWN_TEID = 2,
	STAT_PASS = 3,
};

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct gtpu_hdr {
	__u8 flags;
	__u8 type;
	__be16 length; /* bytes after this 8-byte header */
	__be32 teid;
};

/* Present (all 4 bytes) when any of E, S, PN is set. */
struct gtpu_opt {
	__be16 seq;
	__u8 npdu;
	__u8 next_ext; /* type of the first extension header, 0 = none */
};

#define ENCAP_LEN (sizeof(struct iphdr) + sizeof(struct udphdr) + \
		   sizeof(struct gtpu_hdr))

struct session {
	__be32 ue_ip;
	__be32 peer_ip;		/* gNB/eNB address for downlink */
	__u32 teid_out;		/* TEID used for downlink encap */
	__u16 vlan_out;		/* VID for output frames, 0 = untagged */
	__u16 pad;
	unsigned char src_mac[6];
	unsigned char dst_mac[6];
};

struct config {
	__be32 local_ip;	/* outer source address for downlink */
	__u16 vlan_core;	/* informational; not used by the program */
	__u16 pad;
};

/* key: TEID in host order (bpf_ntohl of the wire value) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct session);
} sessions SEC(".maps");

/* key: UE IPv4 address (network order), value: TEID key into sessions */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __be32);
	__type(value, __u32);
} ue_sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);   /* STAT_* */
	__type(value, __u64); /* packets */
} stats SEC(".maps");

static __always_inline int count(__u32 idx, int verdict)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;
	return verdict;
}

static __always_inline int pass(void)
{
	return count(STAT_PASS, XDP_PASS);
}

/*
 * Write the output Ethernet header (and 802.1Q tag if s->vlan_out != 0)
 * at the start of the frame. Returns the L2 length, or -1 if the frame is
 * too short (cannot happen after a successful adjust_head).
 */
static __always_inline int write_l2(struct xdp_md *ctx, const struct session *s,
				    int in_tagged, __u16 in_tci, __be16 proto)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct vlan_hdr *vh = (void *)(eth + 1);
	__u16 tci;

	if ((void *)(eth + 1) > data_end)
		return -1;
	__builtin_memcpy(eth->h_dest, s->dst_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, s->src_mac, ETH_ALEN);
	if (!s->vlan_out) {
		eth->h_proto = proto;
		return sizeof(*eth);
	}
	if ((void *)(vh + 1) > data_end)
		return -1;
	/* keep PCP/DEI of the input tag, replace the VID */
	tci = (in_tagged ? (in_tci & 0xf000) : 0) | (s->vlan_out & 0x0fff);
	eth->h_proto = bpf_htons(ETH_P_8021Q);
	vh->tci = bpf_htons(tci);
	vh->encap_proto = proto;
	return sizeof(*eth) + sizeof(*vh);
}

static __always_inline __u16 l2_out_len(const struct session *s)
{
	return s->vlan_out ? sizeof(struct ethhdr) + sizeof(struct vlan_hdr)
			   : sizeof(struct ethhdr);
}

/* Full IPv4 header checksum of a 20-byte header (check field zeroed). */
static __always_inline __u16 ipv4_csum(const struct iphdr *iph)
{
	const __u16 *w = (const __u16 *)iph;
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < (int)(sizeof(*iph) / 2); i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* off: offset of the GTP-U header (just past the outer UDP header). */
static __always_inline int uplink(struct xdp_md *ctx, __u32 off,
				  int in_tagged, __u16 in_tci)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct gtpu_hdr *gtp = data + off;
	struct session *s;
	__u8 next = 0, *inner;
	__be16 proto;
	__u32 teid;
	int i;

	if ((void *)(gtp + 1) > data_end)
		return pass();
	if ((gtp->flags & 0xf0) != GTPU_V1_PT || gtp->type != GTPU_TYPE_GPDU)
		return pass();
	teid = bpf_ntohl(gtp->teid);
	off += sizeof(*gtp);

	if (gtp->flags & (GTPU_E | GTPU_S | GTPU_PN)) {
		struct gtpu_opt *opt = data + off;

		if ((void *)(opt + 1) > data_end)
			return pass();
		if (gtp->flags & GTPU_E)
			next = opt->next_ext;
		off += sizeof(*opt);
	}

	/*
	 * Extension header: length octet (in 4-byte units, incl. itself),
	 * contents, and a last octet holding the next extension type.
	 */
	for (i = 0; i < GTPU_MAX_EXT && next; i++) {
		__u8 *len = data + off, *nx;

		if ((void *)(len + 1) > data_end || *len == 0)
			return pass();
		/* Step to the next-type octet itself: `data + off - 1` would
		 * give the verifier a negative packet offset, which it rejects. */
		off += *len * 4 - 1;
		nx = data + off;
		if ((void *)(nx + 1) > data_end)
			return pass();
		next = *nx;
		off++;
	}
	if (next) /* more extension headers than we skip */
		return pass();

	/* inner packet: IPv4 or IPv6, picked by its version nibble */
	inner = data + off;
	if ((void *)(inner + 1) > data_end)
		return pass();
	if ((*inner >> 4) == 4)
		proto = bpf_htons(ETH_P_IP);
	else if ((*inner >> 4) == 6)
		proto = bpf_htons(ETH_P_IPV6);
	else
		return pass();

	s = bpf_map_lookup_elem(&sessions, &teid);
	if (!s)
		return count(STAT_UNKNOWN_TEID, XDP_DROP);

	/* Drop everything in front of the inner packet but the new L2. */
	if (bpf_xdp_adjust_head(ctx, (int)off - l2_out_len(s)))
		return pass();
	if (write_l2(ctx, s, in_tagged, in_tci, proto) < 0)
		return XDP_ABORTED; /* unreachable: frame already modified */
	return count(STAT_UPLINK_DECAP, XDP_TX);
}

/* l2_len: offset of the (to be inner) IPv4 header. */
static __always_inline int downlink(struct xdp_md *ctx, __u32 teid, __u32 l2_len,
				    int in_tagged, __u16 in_tci)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + l2_len, *oip;
	struct gtpu_hdr *gtp;
	struct udphdr *udp;
	struct session *s;
	struct config *cfg;
	__u32 zero = 0;
	__u16 inner_len;
	int l2;

	if ((void *)(iph + 1) > data_end)
		return pass();
	/* the outer lengths are derived from the inner tot_len: check it. The upper bound comes first:
	 * older verifiers (6.1 among them) lose a byte swap's bounds and refuse the pointer arithmetic below without
	 * it (found by running the specs on Debian's 6.1 kernel with --kernel debian:6.1). */
	inner_len = bpf_ntohs(iph->tot_len);
	if (inner_len > 0xffff - ENCAP_LEN || inner_len < iph->ihl * 4 ||
	    (void *)iph + inner_len > data_end)
		return pass();

	s = bpf_map_lookup_elem(&sessions, &teid);
	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!s || !cfg)
		return pass();

	/* Grow (or shrink, for a dropped input tag) the head: new L2 + 36. */
	if (bpf_xdp_adjust_head(ctx, (int)l2_len - (int)(l2_out_len(s) + ENCAP_LEN)))
		return pass();
	l2 = write_l2(ctx, s, in_tagged, in_tci, bpf_htons(ETH_P_IP));
	if (l2 < 0)
		return XDP_ABORTED; /* unreachable: frame already modified */

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	oip = data + l2;
	udp = (void *)(oip + 1);
	gtp = (void *)(udp + 1);
	if ((void *)(gtp + 1) > data_end)
		return XDP_ABORTED; /* unreachable: we just made the room */

	*(__u8 *)oip = 0x45; /* version 4, ihl 5: no options */
	oip->tos = 0;
	oip->tot_len = bpf_htons(inner_len + ENCAP_LEN);
	oip->id = 0;
	oip->frag_off = bpf_htons(IP_DF);
	oip->ttl = 64;
	oip->protocol = IPPROTO_UDP;
	oip->check = 0;
	oip->saddr = cfg->local_ip;
	oip->daddr = s->peer_ip;
	oip->check = ipv4_csum(oip);

	udp->source = bpf_htons(GTPU_PORT);
	udp->dest = bpf_htons(GTPU_PORT);
	udp->len = bpf_htons(inner_len + sizeof(*udp) + sizeof(*gtp));
	udp->check = 0; /* optional for UDP over IPv4 */

	gtp->flags = GTPU_V1_PT; /* no E/S/PN: plain 8-byte header */
	gtp->type = GTPU_TYPE_GPDU;
	gtp->length = bpf_htons(inner_len);
	gtp->teid = bpf_htonl(s->teid_out);

	return count(STAT_DOWNLINK_ENCAP, XDP_TX);
}

SEC("xdp")
int xdp_upf(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 l2_len = sizeof(*eth), ihl_len, *teid;
	int in_tagged = 0;
	__u16 in_tci = 0;
	struct iphdr *iph;
	struct udphdr *udp;
	__be16 proto;
	__be32 dst;

	if ((void *)(eth + 1) > data_end)
		return pass();
	proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > data_end)
			return pass();
		in_tagged = 1;
		in_tci = bpf_ntohs(vh->tci);
		proto = vh->encap_proto;
		l2_len += sizeof(*vh);
	}
	if (proto != bpf_htons(ETH_P_IP))
		return pass();

	iph = data + l2_len;
	if ((void *)(iph + 1) > data_end)
		return pass();
	if (iph->version != 4 || iph->ihl < 5)
		return pass();
	ihl_len = iph->ihl * 4;
	if ((void *)iph + ihl_len > data_end)
		return pass();

	/* Downlink: a packet for one of our UEs. */
	dst = iph->daddr;
	teid = bpf_map_lookup_elem(&ue_sessions, &dst);
	if (teid)
		return downlink(ctx, *teid, l2_len, in_tagged, in_tci);

	/* Uplink: GTP-U. A non-first fragment has no UDP header, and a first
	 * fragment cannot be decapsulated alone: both go to the stack. */
	if (iph->protocol != IPPROTO_UDP ||
	    (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET)))
		return pass();
	udp = (void *)iph + ihl_len;
	if ((void *)(udp + 1) > data_end)
		return pass();
	if (udp->dest != bpf_htons(GTPU_PORT))
		return pass();
	return uplink(ctx, l2_len + ihl_len + sizeof(*udp), in_tagged, in_tci);
}

char LICENSE[] SEC("license") = "GPL";
