//go:build windows

package winupdate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"
	"unsafe"

	"github.com/go-ole/go-ole"
	"github.com/go-ole/go-ole/oleutil"
	"github.com/patchring/patchring/internal/pkgmgr"
)

// New returns a Manager. r runs wusa.exe for rollbacks.
func New(r pkgmgr.Runner) (*Manager, error) {
	root := os.Getenv("SystemRoot")
	if root == "" {
		root = `C:\Windows`
	}
	return &Manager{runner: r, wusa: filepath.Join(root, "System32", "wusa.exe")}, nil
}

// withCOM runs f on a locked OS thread with COM initialised for it.
func withCOM(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := ole.CoInitializeEx(0, ole.COINIT_MULTITHREADED); err != nil {
		var oe *ole.OleError
		// S_FALSE: already initialised on this thread; still balanced below.
		if !errors.As(err, &oe) || oe.Code() != 1 {
			return fmt.Errorf("initialise COM: %w", err)
		}
	}
	defer ole.CoUninitialize()
	return f()
}

func createObject(progID string) (*ole.IDispatch, error) {
	unk, err := oleutil.CreateObject(progID)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", progID, err)
	}
	defer unk.Release()
	d, err := unk.QueryInterface(ole.IID_IDispatch)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", progID, err)
	}
	return d, nil
}

func call(d *ole.IDispatch, method string, args ...any) (*ole.IDispatch, error) {
	v, err := oleutil.CallMethod(d, method, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return v.ToIDispatch(), nil
}

func dispProp(d *ole.IDispatch, name string, args ...any) (*ole.IDispatch, error) {
	v, err := oleutil.GetProperty(d, name, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return v.ToIDispatch(), nil
}

// value reads a scalar property; missing or VT_EMPTY/VT_NULL properties
// give nil.
func value(d *ole.IDispatch, name string) any {
	v, err := oleutil.GetProperty(d, name)
	if err != nil {
		return nil
	}
	defer v.Clear()
	if v.VT == ole.VT_DECIMAL {
		return decimalToInt64(*(*[16]byte)(unsafe.Pointer(v)))
	}
	return v.Value()
}

func str(d *ole.IDispatch, name string) string {
	s, _ := value(d, name).(string)
	return s
}

func boolean(d *ole.IDispatch, name string) bool {
	b, _ := value(d, name).(bool)
	return b
}

func integer(d *ole.IDispatch, name string) int64 {
	switch n := value(d, name).(type) {
	case int8:
		return int64(n)
	case int16:
		return int64(n)
	case int32:
		return int64(n)
	case int64:
		return n
	case uint8:
		return int64(n)
	case uint16:
		return int64(n)
	case uint32:
		return int64(n)
	case uint64:
		return int64(n)
	case float64:
		return int64(n)
	case float32:
		return int64(n)
	}
	return 0
}

// collection calls f for each item of a WUA collection property.
func collection(d *ole.IDispatch, name string, f func(item *ole.VARIANT) error) error {
	coll, err := dispProp(d, name)
	if err != nil {
		return err
	}
	if coll == nil {
		return nil
	}
	defer coll.Release()
	n := int(integer(coll, "Count"))
	for i := 0; i < n; i++ {
		v, err := oleutil.GetProperty(coll, "Item", i)
		if err != nil {
			return fmt.Errorf("%s item %d: %w", name, i, err)
		}
		err = f(v)
		v.Clear()
		if err != nil {
			return err
		}
	}
	return nil
}

func stringCollection(d *ole.IDispatch, name string) []string {
	var out []string
	_ = collection(d, name, func(v *ole.VARIANT) error {
		if s, ok := v.Value().(string); ok {
			out = append(out, s)
		}
		return nil
	})
	return out
}

// toRecord copies the fields Patchring uses out of one IUpdate.
func toRecord(u *ole.IDispatch) (record, error) {
	var r record
	id, err := dispProp(u, "Identity")
	if err != nil {
		return r, err
	}
	r.UpdateID = str(id, "UpdateID")
	r.RevisionNumber = int32(integer(id, "RevisionNumber"))
	id.Release()
	r.Title = str(u, "Title")
	r.KBArticleIDs = stringCollection(u, "KBArticleIDs")
	r.MsrcSeverity = str(u, "MsrcSeverity")
	r.CveIDs = stringCollection(u, "CveIDs")
	r.SecurityBulletinIDs = stringCollection(u, "SecurityBulletinIDs")
	r.SupersededUpdateIDs = stringCollection(u, "SupersededUpdateIDs")
	if t, ok := value(u, "LastDeploymentChangeTime").(time.Time); ok {
		r.LastDeploymentChangeTime = psTime{t.UTC()}
	}
	r.MaxDownloadSize = integer(u, "MaxDownloadSize")
	r.IsMandatory = boolean(u, "IsMandatory")
	r.IsDownloaded = boolean(u, "IsDownloaded")
	r.Type = int32(integer(u, "Type"))
	if ib, err := dispProp(u, "InstallationBehavior"); err == nil && ib != nil {
		r.RebootBehavior = int32(integer(ib, "RebootBehavior"))
		ib.Release()
	}
	err = collection(u, "Categories", func(v *ole.VARIANT) error {
		c := v.ToIDispatch()
		r.Categories = append(r.Categories, category{Name: str(c, "Name"), CategoryID: str(c, "CategoryID"), Type: str(c, "Type")})
		return nil
	})
	return r, err
}

// session holds an IUpdateSession for one operation.
type session struct{ d *ole.IDispatch }

func openSession() (session, error) {
	d, err := createObject("Microsoft.Update.Session")
	if err != nil {
		return session{}, err
	}
	_, _ = oleutil.PutProperty(d, "ClientApplicationID", "Patchring")
	return session{d}, nil
}

// search runs the standard search and returns the IUpdate objects (the
// caller releases them) and their records.
func (s session) search() ([]*ole.IDispatch, []record, error) {
	searcher, err := call(s.d, "CreateUpdateSearcher")
	if err != nil {
		return nil, nil, err
	}
	defer searcher.Release()
	result, err := call(searcher, "Search", searchCriteria)
	if err != nil {
		return nil, nil, fmt.Errorf("search %q: %w", searchCriteria, err)
	}
	defer result.Release()
	var updates []*ole.IDispatch
	var records []record
	err = collection(result, "Updates", func(v *ole.VARIANT) error {
		u := v.ToIDispatch()
		r, err := toRecord(u)
		if err != nil {
			return err
		}
		u.AddRef()
		updates = append(updates, u)
		records = append(records, r)
		return nil
	})
	if err != nil {
		release(updates)
		return nil, nil, err
	}
	return updates, records, nil
}

func release(ds []*ole.IDispatch) {
	for _, d := range ds {
		d.Release()
	}
}

// Scan implements pkgmgr.Manager. WUA contacts its update service itself.
func (m *Manager) Scan(ctx context.Context) ([]pkgmgr.Update, error) {
	var ups []pkgmgr.Update
	err := withCOM(func() error {
		s, err := openSession()
		if err != nil {
			return err
		}
		defer s.d.Release()
		updates, records, err := s.search()
		if err != nil {
			return err
		}
		release(updates)
		ups = make([]pkgmgr.Update, 0, len(records))
		for _, r := range records {
			ups = append(ups, toUpdate(r))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("windows update scan: %w", err)
	}
	return ups, nil
}

func newCollection(items ...*ole.IDispatch) (*ole.IDispatch, error) {
	coll, err := createObject("Microsoft.Update.UpdateColl")
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if _, err := oleutil.CallMethod(coll, "Add", it); err != nil {
			coll.Release()
			return nil, fmt.Errorf("add update to collection: %w", err)
		}
	}
	return coll, nil
}

// Install implements pkgmgr.Manager (see the package doc).
func (m *Manager) Install(ctx context.Context, req pkgmgr.InstallRequest) (pkgmgr.InstallResult, error) {
	res := pkgmgr.InstallResult{Items: []pkgmgr.ItemResult{}}
	err := withCOM(func() error {
		s, err := openSession()
		if err != nil {
			return err
		}
		defer s.d.Release()
		updates, records, err := s.search()
		if err != nil {
			return err
		}
		defer release(updates)
		pick, items := plan(records, req.Targets)
		res.Items = items
		var chosen []*ole.IDispatch
		for i, p := range pick {
			if p < 0 {
				continue
			}
			if !boolean(updates[p], "EulaAccepted") {
				if _, err := oleutil.CallMethod(updates[p], "AcceptEula"); err != nil {
					res.Items[i].Status, res.Items[i].Detail = pkgmgr.ItemFailed, "accept licence: "+err.Error()
					pick[i] = -1
					continue
				}
			}
			chosen = append(chosen, updates[p])
		}
		if len(chosen) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			markRemaining(res.Items, pick, "not started: "+err.Error())
			return nil
		}
		if err := s.download(chosen); err != nil {
			return err
		}
		for i, p := range pick {
			if p < 0 {
				continue
			}
			if err := ctx.Err(); err != nil {
				res.Items[i].Status, res.Items[i].Detail = pkgmgr.ItemSkipped, "not started: "+err.Error()
				continue
			}
			if req.DownloadOnly {
				res.Items[i].Status, res.Items[i].Detail = pkgmgr.ItemSkipped, "downloaded"
				continue
			}
			status, detail, reboot, err := s.installOne(updates[p])
			if err != nil {
				status, detail = pkgmgr.ItemFailed, err.Error()
			}
			res.Items[i].Status, res.Items[i].Detail = status, detail
			res.RebootRequired = res.RebootRequired || reboot
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("windows update install: %w", err)
	}
	return res, nil
}

func markRemaining(items []pkgmgr.ItemResult, pick []int, detail string) {
	for i, p := range pick {
		if p >= 0 {
			items[i].Status, items[i].Detail = pkgmgr.ItemSkipped, detail
		}
	}
}

func (s session) download(updates []*ole.IDispatch) error {
	coll, err := newCollection(updates...)
	if err != nil {
		return err
	}
	defer coll.Release()
	dl, err := call(s.d, "CreateUpdateDownloader")
	if err != nil {
		return err
	}
	defer dl.Release()
	if _, err := oleutil.PutProperty(dl, "Updates", coll); err != nil {
		return fmt.Errorf("downloader updates: %w", err)
	}
	r, err := call(dl, "Download")
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	defer r.Release()
	// Per-update download failures surface as install failures below.
	return nil
}

func (s session) installOne(u *ole.IDispatch) (pkgmgr.ItemStatus, string, bool, error) {
	coll, err := newCollection(u)
	if err != nil {
		return "", "", false, err
	}
	defer coll.Release()
	inst, err := call(s.d, "CreateUpdateInstaller")
	if err != nil {
		return "", "", false, err
	}
	defer inst.Release()
	_, _ = oleutil.PutProperty(inst, "AllowSourcePrompts", false)
	_, _ = oleutil.PutProperty(inst, "ForceQuiet", true) // IUpdateInstaller2; ignored where absent
	if _, err := oleutil.PutProperty(inst, "Updates", coll); err != nil {
		return "", "", false, fmt.Errorf("installer updates: %w", err)
	}
	r, err := call(inst, "Install")
	if err != nil {
		return "", "", false, fmt.Errorf("install: %w", err)
	}
	defer r.Release()
	ur, err := call(r, "GetUpdateResult", 0)
	if err != nil {
		return "", "", false, err
	}
	defer ur.Release()
	reboot := boolean(ur, "RebootRequired") || boolean(r, "RebootRequired")
	status, detail := outcome(int32(integer(ur, "ResultCode")), int32(integer(ur, "HResult")), reboot)
	return status, detail, reboot, nil
}

// RebootRequired implements pkgmgr.RebootReporter with
// ISystemInformation.RebootRequired.
func (m *Manager) RebootRequired(ctx context.Context) (bool, error) {
	var reboot bool
	err := withCOM(func() error {
		si, err := createObject("Microsoft.Update.SystemInfo")
		if err != nil {
			return err
		}
		defer si.Release()
		v, err := oleutil.GetProperty(si, "RebootRequired")
		if err != nil {
			return fmt.Errorf("RebootRequired: %w", err)
		}
		reboot, _ = v.Value().(bool)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("windows update reboot state: %w", err)
	}
	return reboot, nil
}
