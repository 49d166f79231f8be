//! Runs compiled fixtures through the kernel (BPF_PROG_TEST_RUN) and turns results into verdicts.
//! Not implemented yet: see issue 3.
