// Command tlogcheck checks ledger's transparency-log output with an
// independent implementation: Go's golang.org/x/mod/sumdb/note and
// golang.org/x/mod/sumdb/tlog (the Go checksum database's own code).
//
// Build (GOPATH mode, against Debian's golang-golang-x-mod-dev):
//
//	GOPATH=/usr/share/gocode GO111MODULE=off \
//	    go build -o tlogcheck ./tests/interop/tlogcheck
//
// Subcommands (VKEY is a signed-note verifier key "name+hex8+base64"):
//
//	checkpoint VKEY FILE
//	    Verifies the signed checkpoint note; prints origin, size, root.
//	inclusion VKEY PROOF_FILE LEAF_FILE
//	    Parses a c2sp.org/tlog-proof@v1 file, verifies its checkpoint and
//	    checks that LEAF_FILE's bytes are the entry at its index.
//	consistency VKEY OLD_CHECKPOINT_FILE BODY_FILE
//	    BODY_FILE is a C2SP tlog-witness add-checkpoint request body
//	    ("old N", proof lines, empty line, checkpoint). Verifies both
//	    checkpoints and the consistency proof, as a witness would.
//	tiles VKEY DIR
//	    Verifies DIR/checkpoint, reads every hash tile and entry bundle of
//	    a C2SP tlog-tiles directory through tlog.TileHashReader (which
//	    authenticates each tile up to the root), checks each entry's leaf
//	    hash against the level-0 tiles, and checks some record and tree
//	    proofs computed from the tiles.
//	cosig LOG_VKEY WITNESS_VKEY NOTE_FILE
//	    Verifies the checkpoint note's log signature with sumdb/note (which
//	    must ignore the cosignature lines as unknown signers), then the
//	    witness's c2sp.org/tlog-cosignature/v1 line with crypto/ed25519
//	    over the spec's message; prints its time.
//	root [HEX ...]
//	    Prints the RFC 6962 root of the leaves given in hex ("-" for an
//	    empty leaf).
//	rootfiles [FILE ...]
//	    Same, with each leaf read from a file.
//
// Every success prints one or more "key value" lines on stdout and exits 0;
// any failure prints "tlogcheck: ..." on stderr and exits 1 (2 for usage).
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "checkpoint":
		need(args, 2)
		err = cmdCheckpoint(args[0], args[1])
	case "inclusion":
		need(args, 3)
		err = cmdInclusion(args[0], args[1], args[2])
	case "consistency":
		need(args, 3)
		err = cmdConsistency(args[0], args[1], args[2])
	case "tiles":
		need(args, 2)
		err = cmdTiles(args[0], args[1])
	case "cosig":
		need(args, 3)
		err = cmdCosig(args[0], args[1], args[2])
	case "root":
		err = cmdRoot(args, false)
	case "rootfiles":
		err = cmdRoot(args, true)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tlogcheck: %v\n", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: tlogcheck checkpoint VKEY FILE
       tlogcheck inclusion VKEY PROOF_FILE LEAF_FILE
       tlogcheck consistency VKEY OLD_CHECKPOINT_FILE BODY_FILE
       tlogcheck tiles VKEY DIR
       tlogcheck cosig LOG_VKEY WITNESS_VKEY NOTE_FILE
       tlogcheck root [HEX ...]
       tlogcheck rootfiles [FILE ...]
`)
	os.Exit(2)
}

func need(args []string, n int) {
	if len(args) != n {
		usage()
	}
}

// checkpoint is a parsed c2sp.org/tlog-checkpoint body.
type checkpoint struct {
	Origin string
	Tree   tlog.Tree
}

// openCheckpoint verifies a signed checkpoint note with vkey (unknown
// signers are ignored, as the spec requires) and parses its text.
func openCheckpoint(vkey string, msg []byte) (*checkpoint, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("verifier key: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("checkpoint note: %v", err)
	}
	c, err := parseCheckpoint(n.Text)
	if err != nil {
		return nil, err
	}
	if c.Origin != v.Name() {
		return nil, fmt.Errorf("checkpoint origin %q is not the key name %q", c.Origin, v.Name())
	}
	return c, nil
}

// parseCheckpoint follows c2sp.org/tlog-checkpoint: origin, decimal size
// without leading zeroes, base64 root, then optional non-empty lines.
func parseCheckpoint(text string) (*checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("checkpoint: text does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, errors.New("checkpoint: fewer than three lines")
	}
	for i, l := range lines {
		if l == "" {
			return nil, fmt.Errorf("checkpoint: line %d is empty", i+1)
		}
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return nil, fmt.Errorf("checkpoint: bad size %q", lines[1])
	}
	h, err := tlog.ParseHash(lines[2])
	if err != nil || base64.StdEncoding.EncodeToString(h[:]) != lines[2] {
		return nil, fmt.Errorf("checkpoint: bad root hash %q", lines[2])
	}
	return &checkpoint{Origin: lines[0], Tree: tlog.Tree{N: n, Hash: h}}, nil
}

func readFile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func printTree(prefix string, t tlog.Tree) {
	fmt.Printf("%ssize %d\nroot %s\n", prefix, t.N, hex.EncodeToString(t.Hash[:]))
}

func cmdCheckpoint(vkey, file string) error {
	msg, err := readFile(file)
	if err != nil {
		return err
	}
	c, err := openCheckpoint(vkey, msg)
	if err != nil {
		return err
	}
	fmt.Printf("origin %s\n", c.Origin)
	printTree("", c.Tree)
	return nil
}

// lineReader hands out the '\n'-terminated lines of a text in order.
type lineReader struct {
	rest string
}

func (r *lineReader) next() (string, error) {
	i := strings.IndexByte(r.rest, '\n')
	if i < 0 {
		return "", errors.New("unterminated line")
	}
	l := r.rest[:i]
	r.rest = r.rest[i+1:]
	return l, nil
}

// decimal parses a non-negative int64 with no leading zeroes.
func decimal(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("bad decimal %q", s)
	}
	return n, nil
}

// hashLines reads base64 hash lines up to and including an empty line.
func (r *lineReader) hashLines(max int) ([]tlog.Hash, error) {
	var hs []tlog.Hash
	for {
		l, err := r.next()
		if err != nil {
			return nil, err
		}
		if l == "" {
			return hs, nil
		}
		h, err := tlog.ParseHash(l)
		if err != nil || base64.StdEncoding.EncodeToString(h[:]) != l {
			return nil, fmt.Errorf("bad hash line %q", l)
		}
		if len(hs) == max {
			return nil, fmt.Errorf("more than %d hashes", max)
		}
		hs = append(hs, h)
	}
}

// parseProof parses c2sp.org/tlog-proof@v1.
func parseProof(text string) (index int64, proof tlog.RecordProof, ckpt []byte, err error) {
	r := &lineReader{text}
	l, err := r.next()
	if err != nil || l != "c2sp.org/tlog-proof@v1" {
		return 0, nil, nil, errors.New("tlog-proof: bad first line")
	}
	l, err = r.next()
	if err != nil {
		return 0, nil, nil, err
	}
	if strings.HasPrefix(l, "extra ") {
		x, err := base64.StdEncoding.DecodeString(l[len("extra "):])
		if err != nil || len(x) == 0 {
			return 0, nil, nil, errors.New("tlog-proof: bad extra line")
		}
		if l, err = r.next(); err != nil {
			return 0, nil, nil, err
		}
	}
	if !strings.HasPrefix(l, "index ") {
		return 0, nil, nil, fmt.Errorf("tlog-proof: expected index line, got %q", l)
	}
	if index, err = decimal(l[len("index "):]); err != nil {
		return 0, nil, nil, fmt.Errorf("tlog-proof: %v", err)
	}
	hs, err := r.hashLines(63)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("tlog-proof: %v", err)
	}
	if r.rest == "" {
		return 0, nil, nil, errors.New("tlog-proof: no checkpoint")
	}
	return index, tlog.RecordProof(hs), []byte(r.rest), nil
}

func cmdInclusion(vkey, proofFile, leafFile string) error {
	text, err := readFile(proofFile)
	if err != nil {
		return err
	}
	leaf, err := readFile(leafFile)
	if err != nil {
		return err
	}
	index, proof, ckpt, err := parseProof(string(text))
	if err != nil {
		return err
	}
	c, err := openCheckpoint(vkey, ckpt)
	if err != nil {
		return err
	}
	if index >= c.Tree.N {
		return fmt.Errorf("index %d is not in a tree of size %d", index, c.Tree.N)
	}
	if err := tlog.CheckRecord(proof, c.Tree.N, c.Tree.Hash, index, tlog.RecordHash(leaf)); err != nil {
		return fmt.Errorf("inclusion of %d in %d: %v", index, c.Tree.N, err)
	}
	fmt.Printf("index %d\n", index)
	printTree("", c.Tree)
	return nil
}

func cmdConsistency(vkey, oldFile, bodyFile string) error {
	oldMsg, err := readFile(oldFile)
	if err != nil {
		return err
	}
	body, err := readFile(bodyFile)
	if err != nil {
		return err
	}
	old, err := openCheckpoint(vkey, oldMsg)
	if err != nil {
		return fmt.Errorf("old %v", err)
	}
	r := &lineReader{string(body)}
	l, err := r.next()
	if err != nil || !strings.HasPrefix(l, "old ") {
		return errors.New("body: expected old line")
	}
	oldN, err := decimal(l[len("old "):])
	if err != nil {
		return fmt.Errorf("body: %v", err)
	}
	hs, err := r.hashLines(63)
	if err != nil {
		return fmt.Errorf("body: %v", err)
	}
	cur, err := openCheckpoint(vkey, []byte(r.rest))
	if err != nil {
		return fmt.Errorf("new %v", err)
	}
	if cur.Origin != old.Origin {
		return fmt.Errorf("origins differ: %q and %q", old.Origin, cur.Origin)
	}
	if oldN != old.Tree.N {
		return fmt.Errorf("body says old %d, the old checkpoint is of size %d", oldN, old.Tree.N)
	}
	if oldN > cur.Tree.N {
		return fmt.Errorf("old size %d is beyond the new size %d", oldN, cur.Tree.N)
	}
	if oldN == 0 {
		// tlog-witness: the proof must be empty; the empty tree is a
		// prefix of every tree.
		if len(hs) != 0 {
			return errors.New("non-empty proof from size 0")
		}
	} else if err := tlog.CheckTree(tlog.TreeProof(hs), cur.Tree.N, cur.Tree.Hash, oldN, old.Tree.Hash); err != nil {
		return fmt.Errorf("consistency %d -> %d: %v", oldN, cur.Tree.N, err)
	}
	fmt.Printf("old %d\n", oldN)
	printTree("", cur.Tree)
	return nil
}

// tileReader reads C2SP tiles from a directory. Go's Tile.Path() carries
// the tile height ("tile/8/0/000") and calls the entries level "data";
// C2SP has neither, so the paths are mapped.
type tileReader struct {
	dir string
}

func c2spPath(t tlog.Tile) (string, error) {
	p := t.Path()
	prefix := fmt.Sprintf("tile/%d/", tileHeight)
	if !strings.HasPrefix(p, prefix) {
		return "", fmt.Errorf("unexpected tile path %q", p)
	}
	p = "tile/" + p[len(prefix):]
	if t.L == -1 {
		p = "tile/entries/" + strings.TrimPrefix(p, "tile/data/")
	}
	return p, nil
}

func (r *tileReader) Height() int { return tileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p, err := c2spPath(t)
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(p)))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// levelTiles lists every tile a tree of size n has at level l (-1 for
// entry bundles): the full ones and the partial one, if any.
func levelTiles(l int, n int64) []tlog.Tile {
	shift := 0
	if l > 0 {
		shift = tileHeight * l
	}
	count := n >> uint(shift)
	var ts []tlog.Tile
	for k := int64(0); k*256 < count; k++ {
		w := count - k*256
		if w > 256 {
			w = 256
		}
		ts = append(ts, tlog.Tile{H: tileHeight, L: l, N: k, W: int(w)})
	}
	return ts
}

func cmdTiles(vkey, dir string) error {
	msg, err := readFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return err
	}
	c, err := openCheckpoint(vkey, msg)
	if err != nil {
		return err
	}
	tree := c.Tree
	if tree.N == 0 {
		printTree("", tree)
		return nil
	}
	tr := &tileReader{dir}
	hr := tlog.TileHashReader(tree, tr)

	th, err := tlog.TreeHash(tree.N, hr)
	if err != nil {
		return fmt.Errorf("tree hash from tiles: %v", err)
	}
	if th != tree.Hash {
		return fmt.Errorf("tree hash from tiles %v, checkpoint says %v", th, tree.Hash)
	}

	// Every hash tile, read and authenticated up to the root.
	ntiles := 0
	for l := 0; tree.N>>uint(tileHeight*l) > 0; l++ {
		for _, t := range levelTiles(l, tree.N) {
			if _, err := tlog.ReadTileData(t, hr); err != nil {
				p, _ := c2spPath(t)
				return fmt.Errorf("tile %s: %v", p, err)
			}
			ntiles++
		}
	}

	// Every entry bundle: uint16-length-prefixed entries whose leaf
	// hashes are the level-0 hashes.
	nbundles := 0
	for _, t := range levelTiles(-1, tree.N) {
		p, err := c2spPath(t)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		level0 := tlog.Tile{H: tileHeight, L: 0, N: t.N, W: t.W}
		hashes, err := tlog.ReadTileData(level0, hr)
		if err != nil {
			return fmt.Errorf("tile for bundle %s: %v", p, err)
		}
		for i := 0; i < t.W; i++ {
			if len(data) < 2 {
				return fmt.Errorf("bundle %s: entry %d: truncated length", p, i)
			}
			n := int(binary.BigEndian.Uint16(data))
			if len(data) < 2+n {
				return fmt.Errorf("bundle %s: entry %d: truncated", p, i)
			}
			entry := data[2 : 2+n]
			data = data[2+n:]
			var want tlog.Hash
			copy(want[:], hashes[i*tlog.HashSize:])
			if tlog.RecordHash(entry) != want {
				return fmt.Errorf("bundle %s: entry %d does not hash to its leaf", p, i)
			}
		}
		if len(data) != 0 {
			return fmt.Errorf("bundle %s: %d bytes after the last entry", p, len(data))
		}
		nbundles++
	}

	// Proofs computed by Go from our tiles.
	for _, i := range []int64{0, tree.N / 2, tree.N - 1} {
		p, err := tlog.ProveRecord(tree.N, i, hr)
		if err != nil {
			return fmt.Errorf("record proof %d: %v", i, err)
		}
		hs, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
		if err != nil {
			return err
		}
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, i, hs[0]); err != nil {
			return fmt.Errorf("record proof %d: %v", i, err)
		}
	}
	for _, n := range []int64{1, tree.N / 2, tree.N - 1} {
		if n < 1 {
			continue
		}
		h, err := tlog.TreeHash(n, hr)
		if err != nil {
			return fmt.Errorf("tree hash %d: %v", n, err)
		}
		p, err := tlog.ProveTree(tree.N, n, hr)
		if err != nil {
			return fmt.Errorf("tree proof %d: %v", n, err)
		}
		if err := tlog.CheckTree(p, tree.N, tree.Hash, n, h); err != nil {
			return fmt.Errorf("tree proof %d: %v", n, err)
		}
	}
	printTree("", tree)
	fmt.Printf("tiles %d\nbundles %d\n", ntiles, nbundles)
	return nil
}

// memStore keeps stored hashes in memory (index = tlog.StoredHashIndex).
type memStore []tlog.Hash

func (s *memStore) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(*s)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = (*s)[x]
	}
	return out, nil
}

func cmdRoot(args []string, files bool) error {
	var s memStore
	for i, a := range args {
		var data []byte
		var err error
		switch {
		case files:
			data, err = readFile(a)
		case a == "-":
			data = nil
		default:
			data, err = hex.DecodeString(a)
		}
		if err != nil {
			return fmt.Errorf("leaf %d: %v", i, err)
		}
		hs, err := tlog.StoredHashes(int64(i), data, &s)
		if err != nil {
			return err
		}
		s = append(s, hs...)
	}
	th, err := tlog.TreeHash(int64(len(args)), &s)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		// RFC 6962: MTH({}) = SHA-256(); Go's TreeHash returns zeros.
		th = tlog.Hash(sha256.Sum256(nil))
	}
	printTree("", tlog.Tree{N: int64(len(args)), Hash: th})
	return nil
}

// cmdCosig checks a cosignature/v1 (Ed25519) line, written from the
// c2sp.org/tlog-cosignature text alone: key ID SHA-256(name || "\n" ||
// 0x04 || pub)[:4], signature bytes key ID || time (8, big-endian) || sig,
// message "cosignature/v1\ntime T\n" || checkpoint text.
func cmdCosig(logVkey, wVkey, file string) error {
	msg, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	v, err := note.NewVerifier(logVkey)
	if err != nil {
		return err
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return fmt.Errorf("log signature: %v", err)
	}
	parts := strings.SplitN(wVkey, "+", 3)
	if len(parts) != 3 {
		return errors.New("malformed witness vkey")
	}
	name := parts[0]
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) != 33 || key[0] != 0x04 {
		return errors.New("witness vkey is not an Ed25519 cosignature key")
	}
	h := sha256.Sum256(append([]byte(name+"\n"), key...))
	id := binary.BigEndian.Uint32(h[:4])
	if fmt.Sprintf("%08x", id) != strings.ToLower(parts[1]) {
		return errors.New("witness vkey: key ID does not match")
	}
	text := []byte(n.Text)
	sigs := string(msg[len(text)+1:])
	for _, line := range strings.Split(strings.TrimSuffix(sigs, "\n"), "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "\u2014 "))
		if len(f) != 2 || f[0] != name {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil || len(raw) != 76 || binary.BigEndian.Uint32(raw) != id {
			continue
		}
		t := binary.BigEndian.Uint64(raw[4:12])
		m := []byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t))
		m = append(m, text...)
		if !ed25519.Verify(ed25519.PublicKey(key[1:]), m, raw[12:]) {
			return errors.New("cosignature does not verify")
		}
		fmt.Printf("cosigned_by %s\ntime %d\n", name, t)
		return nil
	}
	return errors.New("no cosignature by that witness")
}
