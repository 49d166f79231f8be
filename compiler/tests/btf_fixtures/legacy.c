// Fixture for compiler/tests/btf_maps.rs: a pre-BTF `SEC("maps")` map
// definition, which xdptest (like libbpf 1.0) refuses.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def_legacy {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def_legacy legacy_map SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = 4,
	.value_size = 4,
	.max_entries = 1,
};

SEC("xdp")
int xdp_legacy(struct xdp_md *ctx)
{
	__u32 k = 0;
	return bpf_map_lookup_elem(&legacy_map, &k) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
