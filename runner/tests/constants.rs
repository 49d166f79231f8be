//! The map kinds and helper ids xdptest defines once (in the compiler's fixture) agree with the kernel's
//! numbers as aya-obj's generated bindings give them (an independent source: the kernel's own
//! `include/uapi/linux/bpf.h`, bindgen'd by the aya project).

use aya_obj::generated::{bpf_func_id, bpf_map_type};
use xdptest_compiler::fixture::{helper, MapKind};

#[test]
fn map_kinds_are_the_kernels_numbers() {
    let kernel = [
        (MapKind::Unspec, bpf_map_type::BPF_MAP_TYPE_UNSPEC),
        (MapKind::Hash, bpf_map_type::BPF_MAP_TYPE_HASH),
        (MapKind::Array, bpf_map_type::BPF_MAP_TYPE_ARRAY),
        (MapKind::ProgArray, bpf_map_type::BPF_MAP_TYPE_PROG_ARRAY),
        (MapKind::PerfEventArray, bpf_map_type::BPF_MAP_TYPE_PERF_EVENT_ARRAY),
        (MapKind::PercpuHash, bpf_map_type::BPF_MAP_TYPE_PERCPU_HASH),
        (MapKind::PercpuArray, bpf_map_type::BPF_MAP_TYPE_PERCPU_ARRAY),
        (MapKind::StackTrace, bpf_map_type::BPF_MAP_TYPE_STACK_TRACE),
        (MapKind::CgroupArray, bpf_map_type::BPF_MAP_TYPE_CGROUP_ARRAY),
        (MapKind::LruHash, bpf_map_type::BPF_MAP_TYPE_LRU_HASH),
        (MapKind::LruPercpuHash, bpf_map_type::BPF_MAP_TYPE_LRU_PERCPU_HASH),
        (MapKind::LpmTrie, bpf_map_type::BPF_MAP_TYPE_LPM_TRIE),
        (MapKind::ArrayOfMaps, bpf_map_type::BPF_MAP_TYPE_ARRAY_OF_MAPS),
        (MapKind::HashOfMaps, bpf_map_type::BPF_MAP_TYPE_HASH_OF_MAPS),
        (MapKind::Devmap, bpf_map_type::BPF_MAP_TYPE_DEVMAP),
        (MapKind::Sockmap, bpf_map_type::BPF_MAP_TYPE_SOCKMAP),
        (MapKind::Cpumap, bpf_map_type::BPF_MAP_TYPE_CPUMAP),
        (MapKind::Xskmap, bpf_map_type::BPF_MAP_TYPE_XSKMAP),
        (MapKind::Sockhash, bpf_map_type::BPF_MAP_TYPE_SOCKHASH),
        (MapKind::CgroupStorage, bpf_map_type::BPF_MAP_TYPE_CGROUP_STORAGE),
        (MapKind::ReuseportSockarray, bpf_map_type::BPF_MAP_TYPE_REUSEPORT_SOCKARRAY),
        (MapKind::PercpuCgroupStorage, bpf_map_type::BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE),
        (MapKind::Queue, bpf_map_type::BPF_MAP_TYPE_QUEUE),
        (MapKind::Stack, bpf_map_type::BPF_MAP_TYPE_STACK),
        (MapKind::SkStorage, bpf_map_type::BPF_MAP_TYPE_SK_STORAGE),
        (MapKind::DevmapHash, bpf_map_type::BPF_MAP_TYPE_DEVMAP_HASH),
        (MapKind::StructOps, bpf_map_type::BPF_MAP_TYPE_STRUCT_OPS),
        (MapKind::Ringbuf, bpf_map_type::BPF_MAP_TYPE_RINGBUF),
        (MapKind::InodeStorage, bpf_map_type::BPF_MAP_TYPE_INODE_STORAGE),
        (MapKind::TaskStorage, bpf_map_type::BPF_MAP_TYPE_TASK_STORAGE),
        (MapKind::BloomFilter, bpf_map_type::BPF_MAP_TYPE_BLOOM_FILTER),
        (MapKind::UserRingbuf, bpf_map_type::BPF_MAP_TYPE_USER_RINGBUF),
        (MapKind::CgrpStorage, bpf_map_type::BPF_MAP_TYPE_CGRP_STORAGE),
        (MapKind::Arena, bpf_map_type::BPF_MAP_TYPE_ARENA),
    ];
    assert_eq!(kernel.len(), MapKind::KNOWN.len(), "every known kind is checked");
    for (kind, number) in kernel {
        assert_eq!(kind.raw(), number as u32, "{kind:?}");
        assert_eq!(MapKind::from_raw(number as u32), kind);
    }
}

#[test]
fn helper_ids_are_the_kernels_numbers() {
    for (ours, kernel) in [
        (helper::MAP_UPDATE_ELEM, bpf_func_id::BPF_FUNC_map_update_elem),
        (helper::MAP_DELETE_ELEM, bpf_func_id::BPF_FUNC_map_delete_elem),
        (helper::TRACE_PRINTK, bpf_func_id::BPF_FUNC_trace_printk),
        (helper::MAP_PUSH_ELEM, bpf_func_id::BPF_FUNC_map_push_elem),
        (helper::MAP_POP_ELEM, bpf_func_id::BPF_FUNC_map_pop_elem),
        (helper::TRACE_VPRINTK, bpf_func_id::BPF_FUNC_trace_vprintk),
    ] {
        assert_eq!(ours, kernel as u32);
    }
}
