// Package rpcbench holds the RPC benchmarks: in-process ones run with
// go test -bench (nodes linked over loopback TCP, each family with its
// baseline in the same run), and the rpcbench program, which
// scripts/bench-rpc.sh starts as separate processes for the two-process
// figures.
package rpcbench
