package sqsemu

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"sort"
)

// md5Hex is MD5OfMessageBody / MD5OfBody.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// md5OfAttributes is MD5OfMessageAttributes as SQS computes it: for each
// attribute in name order, length-prefixed (4-byte big endian) name and data
// type, a transport byte (1 string, 2 binary) and the length-prefixed value.
// It returns "" when there are no attributes.
func md5OfAttributes(attrs map[string]Attribute) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := md5.New()
	writeLen := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, n := range names {
		a := attrs[n]
		writeLen([]byte(n))
		writeLen([]byte(a.DataType))
		if a.StringValue != nil {
			h.Write([]byte{1})
			writeLen([]byte(*a.StringValue))
		} else {
			h.Write([]byte{2})
			writeLen(a.BinaryValue)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
