// Command goreader reads a zip with Go's archive/zip (central directory, random access) and prints name,
// size and CRC-32 of every entry. archive/zip checks each entry's CRC-32 and size as it is read.
package main

import (
	"archive/zip"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

func main() {
	r, err := zip.OpenReader(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(1)
	}
	defer r.Close()
	for _, f := range r.File {
		rc, err := f.Open()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", f.Name, err)
			os.Exit(1)
		}
		h := crc32.NewIEEE()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", f.Name, err)
			os.Exit(1)
		}
		fmt.Printf("%s\t%d\t%08x\n", f.Name, n, h.Sum32())
	}
}
