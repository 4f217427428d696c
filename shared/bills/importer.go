package bills

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/estatepay/estatepay/shared/bills/importfile"
	"github.com/estatepay/estatepay/shared/domain/bill"
	"github.com/estatepay/estatepay/shared/domain/calendar"
	"github.com/estatepay/estatepay/shared/domain/house"
	"github.com/estatepay/estatepay/shared/sheet"
)

// Import (X6): a houses file and/or a bills file of one community, checked
// whole before anything is written (Start), then written in slices (Run)
// that each fit in one request, so a console page polling the job sees it
// progress, and a job stopped anywhere completes when run again: houses are
// upserted (owner details) and bills created only where their id (derived
// from house, fee item and period: bill.IDFor) does not exist yet, so a bill
// already reserved or paid keeps its state.
//
//	validating ─► failed (row errors, nothing written)
//	     └──────► writing ─► done
//
// The checked rows are kept with the job (compressed, in chunks) so that Run
// needs nothing but the job id. One job writes to a community at a time
// (ImportStore.Lock): no two writers can race on the same new bill.

// JobState is where an import job stands.
type JobState string

const (
	JobValidating JobState = "validating"
	JobWriting    JobState = "writing"
	JobDone       JobState = "done"
	JobFailed     JobState = "failed"
)

// Job is one import, its state and progress.
type Job struct {
	ID, CompanyID, CommunityID string
	FileNames                  []string
	Format                     string
	State                      JobState
	Houses, Bills              int // rows of each kind (houses are written first)
	Total, Written             int // rows to write, rows written so far
	Created                    int // new houses and bills among Written (the rest existed)
	ChunkRows, Chunks          int
	ErrorCount                 int
	Errors                     []importfile.RowError // the first importfile.MaxErrors
	By                         string
	CreatedAt, UpdatedAt       time.Time
}

// Percent is the job's progress, 0-100.
func (j Job) Percent() int {
	if j.Total == 0 {
		if j.State == JobDone {
			return 100
		}
		return 0
	}
	return j.Written * 100 / j.Total
}

// Errors of the importer.
var (
	ErrJobNotFound = errors.New("bills: import job not found")
	// ErrLocked: another job is writing to the community now.
	ErrLocked = errors.New("bills: another import is writing to this community")
)

// ImportStore is what the importer reads and writes (store.Imports).
type ImportStore interface {
	FeeItems(ctx context.Context, companyID, communityID string) ([]bill.FeeItem, error)
	EachHouse(ctx context.Context, companyID, communityID string, fn func(house.House) error) error
	SaveJob(ctx context.Context, j Job) error
	GetJob(ctx context.Context, companyID, id string) (Job, error) // ErrJobNotFound, also for another company's
	PutChunk(ctx context.Context, jobID string, n int, data []byte) error
	GetChunk(ctx context.Context, jobID string, n int) ([]byte, error)
	// Lock lets holder write to the community until `until` (ErrLocked
	// while another holder's lock has not expired at now).
	Lock(ctx context.Context, companyID, communityID, holder string, until, now time.Time) error
	Unlock(ctx context.Context, companyID, communityID, holder string) error
	// WriteHouses upserts houses (keeping each one's CreatedAt); WriteBills
	// creates the bills whose id does not exist. Each returns how many were new.
	WriteHouses(ctx context.Context, hs []house.House) (int, error)
	WriteBills(ctx context.Context, bs []bill.Bill) (int, error)
}

// Importer runs imports.
type Importer struct {
	Store ImportStore
	Now   func() time.Time
	NewID func() string
	// ChunkRows is how many rows a stored chunk holds (default 2000);
	// ProgressEvery how many rows are written between progress saves
	// (default 500).
	ChunkRows, ProgressEvery int
}

// Files is what one import brings: a houses file, a bills file, or both.
type Files struct {
	Houses, Bills         []byte
	HousesName, BillsName string
}

// row is one checked row as a chunk keeps it: a house, or a bill's fields.
type row struct {
	H *house.House `json:"h,omitempty"`
	B *billRow     `json:"b,omitempty"`
}

type billRow struct {
	HouseID  string `json:"i"`
	Building string `json:"bd"`
	Unit     string `json:"u,omitempty"`
	Room     string `json:"r"`
	Fee      string `json:"f"`
	Period   string `json:"p"`
	Fen      int64  `json:"a"`
	Due      string `json:"d"`
}

func (im *Importer) chunkRows() int {
	if im.ChunkRows > 0 {
		return im.ChunkRows
	}
	return 2000
}

func (im *Importer) progressEvery() int {
	if im.ProgressEvery > 0 {
		return im.ProgressEvery
	}
	return 500
}

// Start checks the files of an import into communityID of companyID. Any
// row error fails the job (State JobFailed, Errors) and nothing is written;
// a clean import is stored and left JobWriting for Run. The error return is
// for the store's failures only.
func (im *Importer) Start(ctx context.Context, companyID, communityID string, f Files, by string) (Job, error) {
	now := im.Now()
	j := Job{ID: im.NewID(), CompanyID: companyID, CommunityID: communityID, State: JobValidating, By: by, CreatedAt: now, UpdatedAt: now,
		ChunkRows: im.chunkRows()}
	for _, n := range []string{f.HousesName, f.BillsName} {
		if n != "" {
			j.FileNames = append(j.FileNames, n)
		}
	}
	if err := im.Store.SaveJob(ctx, j); err != nil {
		return j, err
	}
	rows, errs, err := im.check(ctx, &j, f, now)
	if err != nil {
		return j, err
	}
	if errs.Count > 0 {
		// The file's own checks come before the store's: show them by row.
		slices.SortStableFunc(errs.List, func(a, b importfile.RowError) int { return a.Row - b.Row })
		j.State, j.ErrorCount, j.Errors, j.UpdatedAt = JobFailed, errs.Count, errs.List, im.Now()
		return j, im.Store.SaveJob(ctx, j)
	}
	j.Total = len(rows)
	for n := 0; n*j.ChunkRows < len(rows); n++ {
		data, err := encodeChunk(rows[n*j.ChunkRows : min((n+1)*j.ChunkRows, len(rows))])
		if err != nil {
			return j, err
		}
		if err := im.Store.PutChunk(ctx, j.ID, n, data); err != nil {
			return j, err
		}
		j.Chunks++
	}
	j.State, j.UpdatedAt = JobWriting, im.Now()
	return j, im.Store.SaveJob(ctx, j)
}

// check reads and checks the files: houses first (they may be the bills'
// houses), then bills against the community's houses (stored or in the
// file) and fee items (a bill without an amount takes its fee item's price).
func (im *Importer) check(ctx context.Context, j *Job, f Files, now time.Time) ([]row, importfile.Errors, error) {
	var errs importfile.Errors
	if f.Houses == nil && f.Bills == nil {
		errs.Add(0, "", "请选择要导入的文件")
		return nil, errs, nil
	}
	var rows []row
	known := map[string]house.House{}
	prefix := func(name string, list []importfile.RowError, count int) {
		for _, e := range list {
			if name != "" {
				e.Message = name + "：" + e.Message
			}
			errs.Add(e.Row, e.Column, e.Message)
		}
		errs.Count += count - len(list)
	}
	both := f.Houses != nil && f.Bills != nil
	label := func(s string) string {
		if both {
			return s
		}
		return ""
	}
	if f.Houses != nil {
		data, format, err := sheet.Read(f.Houses)
		j.Format = string(format)
		if err != nil {
			errs.Add(0, "", label("房屋文件")+sheet.Message(err))
			return nil, errs, nil
		}
		hs, herrs := importfile.Houses(data, j.CompanyID, j.CommunityID, now)
		prefix(label("房屋文件"), herrs.List, herrs.Count)
		for _, h := range hs {
			h := h.House
			known[h.ID] = h
			rows = append(rows, row{H: &h})
		}
		j.Houses = len(hs)
	}
	if f.Bills == nil {
		return rows, errs, nil
	}
	data, format, err := sheet.Read(f.Bills)
	if j.Format == "" {
		j.Format = string(format)
	}
	if err != nil {
		errs.Add(0, "", label("账单文件")+sheet.Message(err))
		return nil, errs, nil
	}
	brs, berrs := importfile.Bills(data)
	prefix(label("账单文件"), berrs.List, berrs.Count)
	if len(brs) == 0 {
		return rows, errs, nil
	}
	stored := map[string]house.House{}
	if err := im.Store.EachHouse(ctx, j.CompanyID, j.CommunityID, func(h house.House) error { stored[h.ID] = h; return nil }); err != nil {
		return nil, errs, err
	}
	items, err := im.Store.FeeItems(ctx, j.CompanyID, j.CommunityID)
	if err != nil {
		return nil, errs, err
	}
	fees := map[string]bill.FeeItem{}
	for _, it := range items {
		fees[it.Name] = it
	}
	for _, b := range brs {
		id := b.HouseID(j.CompanyID, j.CommunityID)
		h, ok := known[id]
		if !ok {
			h, ok = stored[id]
		}
		if !ok {
			errs.Add(b.Row, "房号", label("账单文件：")+"房屋 "+house.Label(b.Building, b.Unit, b.Room)+" 不存在，请先导入房屋")
			continue
		}
		fen := b.AmountFen
		if fen == 0 {
			it, ok := fees[b.FeeItem]
			if !ok {
				errs.Add(b.Row, "金额", label("账单文件：")+"收费项目“"+b.FeeItem+"”未设置，请填写金额或先添加该收费项目")
				continue
			}
			if fen, err = it.AmountFor(h.AreaM2); err != nil {
				errs.Add(b.Row, "金额", label("账单文件：")+"房屋 "+h.Label()+" 没有面积，无法按面积计算"+b.FeeItem+"，请填写金额或补充房屋面积")
				continue
			}
		}
		rows = append(rows, row{B: &billRow{HouseID: id, Building: h.Building, Unit: h.Unit, Room: h.Room, Fee: b.FeeItem,
			Period: b.Period, Fen: fen, Due: string(b.DueDate)}})
		j.Bills++
	}
	return rows, errs, nil
}

func encodeChunk(rows []row) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(rows); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeChunk(data []byte) ([]row, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	var rows []row
	return rows, json.Unmarshal(b, &rows)
}

// lockMargin is how long a lock outlives the slice of work it covers.
const lockMargin = time.Minute

// Run writes a JobWriting job on from where it stands until it is done or
// `until` passes (checked between slices of ProgressEvery rows), saving the
// progress after each slice. Another job writing to the community leaves
// the job as it is (ErrLocked is not an error here: the caller polls again).
// A job in any other state is returned as it is.
func (im *Importer) Run(ctx context.Context, companyID, jobID string, until time.Time) (Job, error) {
	j, err := im.Store.GetJob(ctx, companyID, jobID)
	if err != nil || j.State != JobWriting {
		return j, err
	}
	// Each run holds the lock under its own name: two polls of the same job
	// exclude each other too.
	holder := j.ID + "/" + im.NewID()
	if err := im.Store.Lock(ctx, j.CompanyID, j.CommunityID, holder, until.Add(lockMargin), im.Now()); err != nil {
		if errors.Is(err, ErrLocked) {
			return j, nil
		}
		return j, err
	}
	defer im.Store.Unlock(context.WithoutCancel(ctx), j.CompanyID, j.CommunityID, holder)
	// Re-read under the lock: another runner may have moved it meanwhile.
	if j, err = im.Store.GetJob(ctx, companyID, jobID); err != nil || j.State != JobWriting {
		return j, err
	}
	var chunk []row
	chunkN := -1
	for j.Written < j.Total && im.Now().Before(until) {
		n := j.Written / j.ChunkRows
		if n != chunkN {
			data, err := im.Store.GetChunk(ctx, j.ID, n)
			if err != nil {
				return j, err
			}
			if chunk, err = decodeChunk(data); err != nil {
				return j, fmt.Errorf("bills: import %s chunk %d: %w", j.ID, n, err)
			}
			chunkN = n
		}
		off := j.Written - n*j.ChunkRows
		slice := chunk[off:min(off+im.progressEvery(), len(chunk))]
		created, err := im.write(ctx, j, slice)
		if err != nil {
			return j, err
		}
		j.Written += len(slice)
		j.Created += created
		j.UpdatedAt = im.Now()
		if err := im.Store.SaveJob(ctx, j); err != nil {
			return j, err
		}
	}
	if j.Written >= j.Total {
		j.State, j.UpdatedAt = JobDone, im.Now()
		if err := im.Store.SaveJob(ctx, j); err != nil {
			return j, err
		}
	}
	return j, nil
}

// write writes one slice of rows: its houses, then its bills.
func (im *Importer) write(ctx context.Context, j Job, rows []row) (int, error) {
	var hs []house.House
	var bs []bill.Bill
	for _, r := range rows {
		switch {
		case r.H != nil:
			h := *r.H
			h.UpdatedAt = j.CreatedAt
			hs = append(hs, h)
		case r.B != nil:
			b, err := bill.New(bill.Bill{ID: bill.IDFor(j.CompanyID, r.B.HouseID, r.B.Fee, r.B.Period), CompanyID: j.CompanyID, CommunityID: j.CommunityID,
				HouseID: r.B.HouseID, Building: r.B.Building, Unit: r.B.Unit, Room: r.B.Room, FeeItem: r.B.Fee, Period: r.B.Period,
				AmountFen: r.B.Fen, DueDate: calendar.Day(r.B.Due)}, "import:"+j.ID, j.CreatedAt)
			if err != nil {
				return 0, fmt.Errorf("bills: import %s: %w", j.ID, err)
			}
			bs = append(bs, b)
		}
	}
	created := 0
	if len(hs) > 0 {
		n, err := im.Store.WriteHouses(ctx, hs)
		if err != nil {
			return 0, err
		}
		created += n
	}
	if len(bs) > 0 {
		n, err := im.Store.WriteBills(ctx, bs)
		if err != nil {
			return 0, err
		}
		created += n
	}
	return created, nil
}
