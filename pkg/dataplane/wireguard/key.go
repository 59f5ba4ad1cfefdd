package wireguard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// LoadOrCreatePrivateKey returns the WireGuard private key stored in path,
// creating it first if the file does not exist. created tells whether a
// new key was generated.
//
// The file holds the key in base64 (as `wg genkey` writes it) and must not
// be readable or writable by anyone but its owner: a file whose mode grants
// anything to group or others is refused with an error naming the path and
// the mode, and the key is not used. A new file is written with mode 0600
// under a temporary name in the same directory and linked into place, so
// that a reader never sees a partial key and two processes racing to create
// it end up with the same key. The directory is created (0700) if needed.
func LoadOrCreatePrivateKey(path string) (key wgtypes.Key, created bool, err error) {
	key, err = loadPrivateKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return wgtypes.Key{}, false, fmt.Errorf("WireGuard private key %s: creating its directory: %w", path, err)
	}
	key, err = wgtypes.GeneratePrivateKey()
	if err != nil {
		return wgtypes.Key{}, false, fmt.Errorf("WireGuard private key %s: generating: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return wgtypes.Key{}, false, fmt.Errorf("WireGuard private key %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return wgtypes.Key{}, false, fmt.Errorf("WireGuard private key %s: %w", path, err)
	}
	if _, err := tmp.WriteString(key.String() + "\n"); err != nil {
		tmp.Close()
		return wgtypes.Key{}, false, fmt.Errorf("WireGuard private key %s: writing %s: %w", path, tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return wgtypes.Key{}, false, fmt.Errorf("WireGuard private key %s: syncing %s: %w", path, tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return wgtypes.Key{}, false, fmt.Errorf("WireGuard private key %s: %w", path, err)
	}
	// Link, not rename: if another process created the file meanwhile,
	// its key wins and ours is dropped.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			key, err = loadPrivateKey(path)
			return key, false, err
		}
		return wgtypes.Key{}, false, fmt.Errorf("WireGuard private key %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the new directory entry durable; best effort
		d.Close()
	}
	return key, true, nil
}

// loadPrivateKey reads the key file, refusing one with group or other
// permissions.
func loadPrivateKey(path string) (wgtypes.Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return wgtypes.Key{}, fmt.Errorf("WireGuard private key %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return wgtypes.Key{}, fmt.Errorf("WireGuard private key %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return wgtypes.Key{}, fmt.Errorf("WireGuard private key %s: not a regular file (mode %s)", path, st.Mode())
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return wgtypes.Key{}, fmt.Errorf("WireGuard private key %s has mode %#o, which lets others than its owner access it; want 0600 (chmod 600 %s)", path, perm, path)
	}
	buf := make([]byte, 256)
	n, err := f.Read(buf)
	if err != nil {
		return wgtypes.Key{}, fmt.Errorf("WireGuard private key %s: reading: %w", path, err)
	}
	key, err := wgtypes.ParseKey(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		return wgtypes.Key{}, fmt.Errorf("WireGuard private key %s: %w", path, err)
	}
	return key, nil
}
