// Package sheet reads the rows of an uploaded spreadsheet: CSV (UTF-8 with
// or without a BOM, or GBK/GB18030 as Chinese Excel saves it) or XLSX (its
// first worksheet). Cells come trimmed; the caller maps the header row.
package sheet

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// Limits of one file.
const (
	// MaxBytes is the largest file accepted (API Gateway's body limit).
	MaxBytes = 10 << 20
	// MaxRows bounds the rows of one file (header included).
	MaxRows = 200_001
	// maxUnzipped bounds what an XLSX may unpack to (a zip bomb stops here).
	maxUnzipped = 256 << 20
)

// Format is what a file turned out to be.
type Format string

const (
	CSVUTF8 Format = "csv-utf8"
	CSVGBK  Format = "csv-gbk"
	XLSX    Format = "xlsx"
)

// ErrUnreadable is a file that is no CSV or XLSX we can read; the text after
// the prefix is Chinese, for people.
var ErrUnreadable = errors.New("sheet: unreadable")

func unreadable(msg string) error { return fmt.Errorf("%w: %s", ErrUnreadable, msg) }

// Message is the Chinese part of an ErrUnreadable error.
func Message(err error) string {
	s := err.Error()
	if i := strings.Index(s, ErrUnreadable.Error()+": "); i >= 0 {
		return s[i+len(ErrUnreadable.Error())+2:]
	}
	return "文件无法读取"
}

// Read returns the rows of a file, detecting its format: a zip (XLSX) by its
// signature, else CSV, UTF-8 when the bytes are valid UTF-8 (a BOM is
// dropped), else GBK (read as GB18030, its superset).
func Read(data []byte) ([][]string, Format, error) {
	switch {
	case len(data) == 0:
		return nil, "", unreadable("文件是空的")
	case len(data) > MaxBytes:
		return nil, "", unreadable("文件超过 10 MB，请分成几个文件导入")
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		rows, err := readXLSX(data)
		return rows, XLSX, err
	}
	format := CSVUTF8
	var r io.Reader
	if data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")); utf8.Valid(data) {
		r = bytes.NewReader(data)
	} else {
		format = CSVGBK
		r = transform.NewReader(bytes.NewReader(data), simplifiedchinese.GB18030.NewDecoder())
	}
	rows, err := readCSV(r)
	return rows, format, err
}

func readCSV(r io.Reader) ([][]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	var rows [][]string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, unreadable(fmt.Sprintf("CSV 第 %d 行格式错误（引号不匹配或多余的引号）", pe.StartLine))
			}
			return nil, unreadable("CSV 文件无法读取")
		}
		if len(rows) >= MaxRows {
			return nil, unreadable(fmt.Sprintf("文件超过 %d 行，请分成几个文件导入", MaxRows-1))
		}
		rows = append(rows, trim(rec))
	}
}

func readXLSX(data []byte) ([][]string, error) {
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: maxUnzipped, UnzipXMLSizeLimit: maxUnzipped / 2})
	if err != nil {
		return nil, unreadable("XLSX 文件无法打开，请确认是 Excel 2007 及以上格式（.xlsx），且未加密")
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, unreadable("XLSX 文件中没有工作表")
	}
	it, err := f.Rows(sheets[0])
	if err != nil {
		return nil, unreadable("XLSX 工作表无法读取")
	}
	defer it.Close()
	var rows [][]string
	for it.Next() {
		// Raw values: amounts and areas as stored (not "¥1,200.00"), dates
		// as Excel serial numbers (the caller reads those).
		rec, err := it.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, unreadable("XLSX 工作表无法读取")
		}
		if len(rows) >= MaxRows {
			return nil, unreadable(fmt.Sprintf("文件超过 %d 行，请分成几个文件导入", MaxRows-1))
		}
		rows = append(rows, trim(rec))
	}
	if it.Error() != nil {
		return nil, unreadable("XLSX 工作表无法读取")
	}
	return rows, nil
}

func trim(rec []string) []string {
	out := make([]string, len(rec))
	for i, c := range rec {
		out[i] = strings.TrimSpace(strings.TrimPrefix(c, "\ufeff"))
	}
	return out
}

// Empty reports whether a row has no value.
func Empty(row []string) bool {
	for _, c := range row {
		if c != "" {
			return false
		}
	}
	return true
}
