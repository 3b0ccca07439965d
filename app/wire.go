package app

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The wire format is protocol buffers (proto3), written by hand with the
// standard library so that the app package stays free of code generation and
// so that decoding is strict: a message must be in canonical form (fields in
// ascending order, each at most once, zero values omitted, minimal varints).
// Transactions are checked field by field as they are read (canonReader);
// the rarer governance actions by re-encoding what was decoded. The schema
// is in docs/proto/consort/v1/consort.proto.

const (
	wireVarint = 0
	wireBytes  = 2
)

var errTruncated = errors.New("truncated field")

// encoder appends proto3 fields; zero values are omitted as proto3 requires.
type encoder struct{ buf []byte }

func (e *encoder) tag(num int, typ int) {
	e.buf = binary.AppendUvarint(e.buf, uint64(num)<<3|uint64(typ))
}

func (e *encoder) uint(num int, v uint64) {
	if v == 0 {
		return
	}
	e.tag(num, wireVarint)
	e.buf = binary.AppendUvarint(e.buf, v)
}

func (e *encoder) bytes(num int, v []byte) {
	if len(v) == 0 {
		return
	}
	e.tag(num, wireBytes)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(v)))
	e.buf = append(e.buf, v...)
}

func (e *encoder) string(num int, v string) { e.bytes(num, []byte(v)) }

// repeatedString writes every element, empty ones included, as proto3 does
// for repeated fields.
func (e *encoder) repeatedString(num int, list []string) {
	for _, v := range list {
		e.tag(num, wireBytes)
		e.buf = binary.AppendUvarint(e.buf, uint64(len(v)))
		e.buf = append(e.buf, v...)
	}
}

// message writes an embedded message. Unlike scalars, a present but empty
// message is still written when always is true (repeated elements).
func (e *encoder) message(num int, always bool, write func(*encoder)) {
	var sub encoder
	write(&sub)
	if len(sub.buf) == 0 && !always {
		return
	}
	e.tag(num, wireBytes)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(sub.buf)))
	e.buf = append(e.buf, sub.buf...)
}

// decoder reads fields in order. Its methods never panic on bad input.
type decoder struct {
	b   []byte
	typ int // wire type of the field just read by next
}

// next reads the next field's number; ok is false at the end of input.
func (d *decoder) next() (num int, ok bool, err error) {
	if len(d.b) == 0 {
		return 0, false, nil
	}
	key, n := binary.Uvarint(d.b)
	if n <= 0 {
		return 0, false, errTruncated
	}
	d.b = d.b[n:]
	num, d.typ = int(key>>3), int(key&7)
	if key>>3 == 0 || key>>3 > 1<<29-1 {
		return 0, false, fmt.Errorf("invalid field number %d", key>>3)
	}
	return num, true, nil
}

func (d *decoder) uint(field string) (uint64, error) {
	if d.typ != wireVarint {
		return 0, fmt.Errorf("field %s: wire type %d, want varint", field, d.typ)
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		return 0, fmt.Errorf("field %s: %w", field, errTruncated)
	}
	d.b = d.b[n:]
	return v, nil
}

func (d *decoder) uint32(field string) (uint32, error) {
	v, err := d.uint(field)
	if err == nil && v > 1<<32-1 {
		err = fmt.Errorf("field %s: %d does not fit in 32 bits", field, v)
	}
	return uint32(v), err
}

// int64 reads a proto int64: the varint of its two's complement.
func (d *decoder) int64(field string) (int64, error) {
	v, err := d.uint(field)
	return int64(v), err
}

func (d *decoder) bytes(field string) ([]byte, error) {
	if d.typ != wireBytes {
		return nil, fmt.Errorf("field %s: wire type %d, want length-delimited", field, d.typ)
	}
	l, n := binary.Uvarint(d.b)
	if n <= 0 || l > uint64(len(d.b)-n) {
		return nil, fmt.Errorf("field %s: %w", field, errTruncated)
	}
	v := d.b[n : n+int(l)]
	d.b = d.b[n+int(l):]
	return v, nil
}

// message reads an embedded message and hands its bytes to decode.
func (d *decoder) message(field string, decode func([]byte) error) error {
	raw, err := d.bytes(field)
	if err != nil {
		return err
	}
	return decode(raw)
}

func (d *decoder) string(field string) (string, error) {
	v, err := d.bytes(field)
	return string(v), err
}

// decodeFields calls field for every field of the message b, in order, until
// the end of b or the first error.
func decodeFields(b []byte, field func(d *decoder, num int) error) error {
	d := decoder{b: b}
	for {
		num, ok, err := d.next()
		if err != nil || !ok {
			return err
		}
		if err := field(&d, num); err != nil {
			return err
		}
	}
}

// canonReader reads a message that must be in canonical form, the form
// encoder writes: each key, length and value a minimal varint, fields in
// ascending order (a repeated field's elements one after another), scalar
// fields present only when not zero. A message read without error by a
// canonReader is, byte for byte, what encoder writes for the decoded values,
// so the transaction decoder needs no second pass that re-encodes.
type canonReader struct {
	b    []byte
	last uint64 // the previous field's number, 0 before the first field
}

// canonMinimal reports whether the varint in b[:n] (n from binary.Uvarint)
// is in its shortest form: a longer one ends in a zero byte.
func canonMinimal(b []byte, n int) bool { return n == 1 || b[n-1] != 0 }

func errNotCanonical(field, why string) error {
	return fmt.Errorf("field %s: not in canonical encoding: %s", field, why)
}

// more reports whether fields remain.
func (r *canonReader) more() bool { return len(r.b) > 0 }

// key reads the next field's key.
func (r *canonReader) key() (num uint64, typ int, err error) {
	key, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, 0, errTruncated
	}
	if !canonMinimal(r.b, n) {
		return 0, 0, errNotCanonical("key", "varint not minimal")
	}
	r.b = r.b[n:]
	num = key >> 3
	if num == 0 || num > 1<<29-1 {
		return 0, 0, fmt.Errorf("invalid field number %d", num)
	}
	return num, int(key & 7), nil
}

// order checks that field num may follow the previous one: a higher number,
// or the same number again when the field is repeated.
func (r *canonReader) order(num uint64, repeated bool, field string) error {
	if num < r.last || num == r.last && !repeated {
		return errNotCanonical(field, "out of order or repeated")
	}
	r.last = num
	return nil
}

// varint reads a varint value of a field whose key had wire type typ.
// Proto3 omits scalars at zero, so a present zero is not canonical.
func (r *canonReader) varint(typ int, field string) (uint64, error) {
	if typ != wireVarint {
		return 0, fmt.Errorf("field %s: wire type %d, want varint", field, typ)
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, fmt.Errorf("field %s: %w", field, errTruncated)
	}
	if !canonMinimal(r.b, n) {
		return 0, errNotCanonical(field, "varint not minimal")
	}
	if v == 0 {
		return 0, errNotCanonical(field, "zero value written")
	}
	r.b = r.b[n:]
	return v, nil
}

func (r *canonReader) uint32(typ int, field string) (uint32, error) {
	v, err := r.varint(typ, field)
	if err == nil && v > 1<<32-1 {
		err = fmt.Errorf("field %s: %d does not fit in 32 bits", field, v)
	}
	return uint32(v), err
}

// bytes reads a length-delimited field and returns a sub-slice of the
// input. Scalar bytes and strings must not be empty (proto3 omits them);
// embedded messages may be, so message is true for those.
func (r *canonReader) bytes(typ int, field string, message bool) ([]byte, error) {
	if typ != wireBytes {
		return nil, fmt.Errorf("field %s: wire type %d, want length-delimited", field, typ)
	}
	l, n := binary.Uvarint(r.b)
	if n <= 0 || l > uint64(len(r.b)-n) {
		return nil, fmt.Errorf("field %s: %w", field, errTruncated)
	}
	if !canonMinimal(r.b, n) {
		return nil, errNotCanonical(field, "length varint not minimal")
	}
	if l == 0 && !message {
		return nil, errNotCanonical(field, "empty value written")
	}
	v := r.b[n : n+int(l)]
	r.b = r.b[n+int(l):]
	return v, nil
}

// countElements counts the length-delimited fields numbered 1 and 2 in the
// message b (the repeated fields of a Transfer, a Burn and a Tx are among
// them), to size slices before decoding. It stops quietly at anything
// malformed, which the decoder then reports. The counts are capped so that
// a message of many tiny bad elements cannot make a large allocation before
// the first of them is refused.
func countElements(b []byte) (ones, twos int) {
	const maxCount = 256
	for len(b) > 0 && ones < maxCount && twos < maxCount {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			break
		}
		b = b[n:]
		switch key & 7 {
		case wireVarint:
			if _, n = binary.Uvarint(b); n <= 0 {
				return
			}
			b = b[n:]
		case wireBytes:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return
			}
			b = b[n+int(l):]
			switch key >> 3 {
			case 1:
				ones++
			case 2:
				twos++
			}
		default:
			return
		}
	}
	return
}

func unknownField(msg string, num int) error {
	return fmt.Errorf("unknown field %d in %s", num, msg)
}
