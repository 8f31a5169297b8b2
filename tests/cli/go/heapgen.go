// heapgen.go — a Go program that writes a heap profile of known contents
// (runtime/pprof.WriteHeapProfile, profile.proto gzipped) for
// go_heap_test.py, which reads it with `heapsight top` and with
// `go tool pprof -top` and compares the two.
//
// Usage: go run heapgen.go OUT.pb.gz
//
// Every allocation is sampled (runtime.MemProfileRate = 1, set before the
// allocations below), so the profile holds exact amounts:
//
//	function          objects    size     total    after the GC
//	main.allocSmall     16384    64 B     1 MiB    live
//	main.newBlock        4096    1 KiB    4 MiB    live (inlined into
//	                                               main.allocMedium)
//	main.allocLarge       256    32 KiB   8 MiB    live
//	main.makeGarbage     1024    16 KiB  16 MiB    freed
//
// Sizes are exact Go size classes, so nothing is rounded up.  The live
// objects stay reachable from package variables; two collections before
// the dump make the freed ones show as freed (a heap profile is as of the
// last completed collection).  Standard library only, one file.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

var (
	small  [][]byte
	medium [][]byte
	large  [][]byte
	sink   []byte
)

//go:noinline
func allocSmall() {
	for i := 0; i < 16384; i++ {
		small = append(small, make([]byte, 64))
	}
}

// newBlock is small enough for the compiler to inline: its allocations
// are attributed to an inlined frame inside main.allocMedium.
func newBlock(n int) []byte {
	return make([]byte, n)
}

//go:noinline
func allocMedium() {
	for i := 0; i < 4096; i++ {
		medium = append(medium, newBlock(1024))
	}
}

//go:noinline
func allocLarge() {
	for i := 0; i < 256; i++ {
		large = append(large, make([]byte, 32768))
	}
}

//go:noinline
func makeGarbage() {
	for i := 0; i < 1024; i++ {
		sink = make([]byte, 16384)
	}
	sink = nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run heapgen.go OUT.pb.gz")
		os.Exit(2)
	}
	runtime.MemProfileRate = 1
	// The slices' backing arrays grow by appending: size them first so
	// the only big allocations are the ones in the table above.
	small = make([][]byte, 0, 16384)
	medium = make([][]byte, 0, 4096)
	large = make([][]byte, 0, 256)
	allocSmall()
	allocMedium()
	allocLarge()
	makeGarbage()
	runtime.GC()
	runtime.GC()
	f, err := os.Create(os.Args[1])
	if err == nil {
		err = pprof.WriteHeapProfile(f)
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "heapgen:", err)
		os.Exit(1)
	}
	runtime.KeepAlive(small)
	runtime.KeepAlive(medium)
	runtime.KeepAlive(large)
}
