package pgtext

import (
	"archive/zip"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

//go:generate go run gen_tzdata.go

// ZoneDataVersion returns the release of the IANA time zone database that
// this binary embeds, such as "2025c", or "" when it was built without one
// (see zoneinfoFS).
func ZoneDataVersion() string {
	b, err := zoneinfoFS.ReadFile("tzdata/RELEASE")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// zoneinfoFS holds tzdata/zoneinfo.zip, an uncompressed zip of TZif files,
// one per zone name, and tzdata/RELEASE, its IANA release. go generate
// copies both from the Go toolchain (gen_tzdata.go): the very database
// package time/tzdata embeds. They are not committed; a binary built
// without them knows only "UTC" and says how to build the rest.
//
// Why not time/tzdata itself: time.LoadLocation reads the host's
// /usr/share/zoneinfo whenever it exists and falls back to the embedded
// copy only when it does not, and no exported API reads the embedded copy
// directly (only a go:linkname into package time would). SPEC 9.1 wants
// answers that do not depend on the host, so Tally embeds the database
// itself, reads it with archive/zip and decodes the TZif files itself
// (tzif.go). The cost is ~400 KB of binary.
//
//go:embed all:tzdata
var zoneinfoFS embed.FS

// errNoZoneData is the error of every zone but UTC in a binary built
// without its zone database.
var errNoZoneData = errors.New("this Tally was built without its time zone database; build it with go generate ./... before go build ./cmd/tally")

// zoneDB indexes the embedded database and caches the zones loaded from
// it. It holds only data derived from the embedded file, never settings,
// so it is shared by the whole process like package time's zone cache.
// The cache is bounded by the database: at most one *Zone per accepted
// name (about 550), about 1 MB if every zone were loaded
// (TestZoneCacheBound measures it).
var zoneDB struct {
	once  sync.Once
	files map[string]*zip.File // accepted canonical name → TZif file
	fold  map[string]string    // lower-case name → canonical name, for every name in the file
	err   error

	mu    sync.RWMutex
	zones map[string]*Zone // guarded by mu; canonical name → loaded zone
}

func openZoneDB() error {
	zoneDB.once.Do(func() {
		data, err := zoneinfoFS.ReadFile("tzdata/zoneinfo.zip")
		if err != nil {
			zoneDB.err = errNoZoneData
			return
		}
		r, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			zoneDB.err = fmt.Errorf("pgtext: embedded zone database: %w", err)
			return
		}
		zoneDB.files = make(map[string]*zip.File, len(r.File))
		zoneDB.fold = make(map[string]string, len(r.File))
		for _, f := range r.File {
			zoneDB.fold[strings.ToLower(f.Name)] = f.Name
			if acceptedZoneName(f.Name) {
				zoneDB.files[f.Name] = f
			}
		}
		zoneDB.zones = make(map[string]*Zone)
	})
	return zoneDB.err
}

// acceptedZoneName reports whether a canonical name of the database is one
// Tally accepts: "UTC", or an Area/Location name (one with a slash). The
// other names are the database's backward-compatibility aliases ("EST5EDT",
// "Japan", "GMT", ...); four of them ("CET", "EET", "MET", "WET") mean a
// daylight-saving zone to PostgreSQL's SET TimeZone but a fixed-offset
// abbreviation to its AT TIME ZONE, so a query would mean two things.
func acceptedZoneName(name string) bool {
	return name == "UTC" || strings.Contains(name, "/")
}

// readZoneFile returns the TZif data of the canonical name.
func readZoneFile(name string) (tzFile, error) {
	f, ok := zoneDB.files[name]
	if !ok {
		return tzFile{}, fmt.Errorf("pgtext: zone %q missing from the embedded database", name)
	}
	rc, err := f.Open()
	if err != nil {
		return tzFile{}, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return tzFile{}, err
	}
	tz, err := parseTZif(b)
	if err != nil {
		return tzFile{}, fmt.Errorf("pgtext: zone %q: %w", name, err)
	}
	return tz, nil
}

// ZoneNames returns the names LoadZone accepts, in canonical spelling and
// no particular order: "UTC" and the Area/Location names of the embedded
// database. The caller owns the slice.
func ZoneNames() []string {
	if openZoneDB() != nil {
		return []string{"UTC"}
	}
	names := make([]string, 0, len(zoneDB.files))
	for n := range zoneDB.files {
		names = append(names, n)
	}
	return names
}
