package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/estatepay/estatepay/shared/fieldcrypt"
)

// FenfuKeyringFile is the file under the keys directory holding the keyring
// that wraps the data keys of 分付 field encryption (F6). The functions read
// it through FENFU_KEY_REF (template parameter FenfuKeyRef, file://…) as they
// read a Secrets Manager secret; in the cloud FENFU_KEY_REF names a KMS key
// (kms:…) instead.
const FenfuKeyringFile = "fenfu-keyring.json"

// loadOrCreateFenfuKeyring checks the keyring in path, creating one with a
// single key when there is none. A keyring that is there but unreadable is
// an error, never replaced: the values sealed under it would no longer open.
func loadOrCreateFenfuKeyring(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := fieldcrypt.NewKeyring("local-1")
		if err != nil {
			return err
		}
		return writeJSON(path, k)
	}
	if err != nil {
		return err
	}
	var k fieldcrypt.Keyring
	if err := json.Unmarshal(b, &k); err != nil || k.Keys[k.Current] == "" {
		return fmt.Errorf("%s: not a keyring with a current key (fix or remove it; values sealed under it are lost with it)", path)
	}
	return nil
}
