package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tally-server/tally/internal/analytics"
	"github.com/tally-server/tally/internal/auth"
	"github.com/tally-server/tally/internal/demo"
	"github.com/tally-server/tally/internal/graphql"
	"github.com/tally-server/tally/internal/ingest"
	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/server"
	"github.com/tally-server/tally/internal/store/postgres"
	"github.com/tally-server/tally/internal/store/sqlite"
	"github.com/tally-server/tally/web"
)

// serveFlags are the flags of serve and demo.
type serveFlags struct {
	listen         *string
	dataDir        *string
	adminSecret    *string
	maxBuckets     *int
	maxQueryBytes  *int64
	maxIngestBytes *int64
	maxRecords     *int
	queryTimeout   *time.Duration
	bodiesInFlight *int64
	bodyIdle       *time.Duration
	bodyTimeout    *time.Duration
	heavyCost      *int64
	maxHeavy       *int
	maxQueued      *int
	logLevel       *string
	demoDays       *int
	demoPerDay     *int
	databaseURL    *string
	poolSize       *int
	gql            graphqlFlags
	corsOrigins    *string
	live           *liveFlags
}

func newServeFlags(name string, stderr io.Writer, getenv func(string) string, isDemo bool) (*flag.FlagSet, *serveFlags, *envFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	ef := &envFlags{fs: fs, getenv: getenv}
	dataDir := defaultDataDir
	if isDemo {
		dataDir = "./tally-demo"
	}
	// Each default is the one its package defines.
	srv := server.Config{}.WithDefaults()
	adm := analytics.AdmissionConfig{}.WithDefaults()
	f := &serveFlags{
		listen:         ef.String("listen", "127.0.0.1:8080", "address to listen on; without --admin-secret keep it on loopback"),
		dataDir:        ef.String("data-dir", dataDir, "directory of the embedded store"),
		adminSecret:    ef.String("admin-secret", "", "operator secret required as X-Admin-Secret; empty runs open (development mode)"),
		maxBuckets:     ef.Int("max-buckets", analytics.Limits{}.WithDefaults().MaxBuckets, "most buckets one query may return"),
		maxQueryBytes:  ef.Int64("max-query-bytes", srv.MaxQueryBytes, "largest /v1/graphql request body"),
		maxIngestBytes: ef.Int64("max-ingest-bytes", srv.MaxIngestBytes, "largest /v1/sessions request body, after decompression"),
		maxRecords:     ef.Int("max-ingest-records", srv.Ingest.MaxRecords, "most records one /v1/sessions batch may hold"),
		queryTimeout:   ef.Duration("query-timeout", srv.QueryTimeout, "longest a GraphQL request may run"),
		bodiesInFlight: ef.Int64("max-body-bytes-in-flight", srv.MaxBodyBytesInFlight, "most bytes of request bodies held at once, over all connections; past it, requests with large bodies get 503 and Retry-After"),
		bodyIdle:       ef.Duration("body-idle-timeout", srv.BodyIdleTimeout, "longest wait for the next bytes of a request body"),
		bodyTimeout:    ef.Duration("body-timeout", srv.BodyTimeout, "longest a whole request (headers and body) may take to arrive"),
		heavyCost:      ef.Int64("heavy-query-cost", adm.HeavyCost, "cost from which a query is heavy and waits for a turn: stored rows it reads plus 512 per bucket it answers"),
		maxHeavy:       ef.Int("max-heavy-queries", 0, "heavy queries that run at once; 0 means the number of CPUs minus one on the embedded store, half of --db-pool-size minus one on PostgreSQL (at least one)"),
		maxQueued:      ef.Int("max-heavy-queued", adm.MaxQueued, "heavy queries that may wait for a turn; past it a heavy query is refused at once"),
		logLevel:       ef.String("log-level", "info", "debug, info, warn or error"),
		corsOrigins:    ef.String("cors-origins", "*", "origins browsers may call from, comma-separated (https://app.example.com, http://localhost:3000, https://*.example.com); * allows every origin"),
	}
	f.gql = newGraphQLFlags(ef)
	f.live = addLiveFlags(ef)
	if !isDemo {
		f.databaseURL = ef.String("database-url", "", "PostgreSQL URL (postgres://user:pass@host/db): keep sessions and keys there instead of --data-dir, so replicas can share them")
		f.poolSize = ef.Int("db-pool-size", postgres.Config{}.WithDefaults().PoolSize, "most PostgreSQL connections this replica opens, with --database-url")
	}
	if isDemo {
		d := demo.Config{}.WithDefaults()
		f.demoDays = ef.Int("demo-days", d.Days, "days of demo data, ending today")
		f.demoPerDay = ef.Int("demo-per-day", d.PerDay, "average demo sessions per weekday")
	}
	return fs, f, ef
}

func (f *serveFlags) validate() []string {
	var errs []string
	if _, _, err := net.SplitHostPort(*f.listen); err != nil {
		errs = append(errs, fmt.Sprintf("--listen %q is not host:port (%v)", *f.listen, err))
	}
	if *f.dataDir == "" {
		errs = append(errs, "--data-dir must not be empty")
	}
	if *f.maxBuckets <= 0 {
		errs = append(errs, "--max-buckets must be positive")
	}
	if *f.maxQueryBytes <= 0 || *f.maxIngestBytes <= 0 || *f.maxRecords <= 0 {
		errs = append(errs, "--max-query-bytes, --max-ingest-bytes and --max-ingest-records must be positive")
	}
	if *f.queryTimeout <= 0 {
		errs = append(errs, "--query-timeout must be positive")
	}
	if *f.bodiesInFlight <= 0 {
		errs = append(errs, "--max-body-bytes-in-flight must be positive")
	}
	if *f.bodyIdle <= 0 || *f.bodyTimeout <= 0 {
		errs = append(errs, "--body-idle-timeout and --body-timeout must be positive")
	}
	if *f.heavyCost <= 0 || *f.maxQueued <= 0 || *f.maxHeavy < 0 {
		errs = append(errs, "--heavy-query-cost and --max-heavy-queued must be positive, --max-heavy-queries 0 or more")
	}
	errs = append(errs, f.gql.validate()...)
	if err := server.ValidateCORSOrigins(strings.Split(*f.corsOrigins, ",")); err != nil {
		errs = append(errs, err.Error())
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*f.logLevel)); err != nil {
		errs = append(errs, fmt.Sprintf("--log-level %q: use debug, info, warn or error", *f.logLevel))
	}
	if f.poolSize != nil && *f.poolSize <= 0 {
		errs = append(errs, "--db-pool-size must be positive")
	}
	if f.demoDays != nil && (*f.demoDays <= 0 || *f.demoPerDay <= 0) {
		errs = append(errs, "--demo-days and --demo-per-day must be positive")
	}
	return append(errs, f.live.validate()...)
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, isDemo bool) int {
	name := "serve"
	if isDemo {
		name = "demo"
	}
	fs, f, ef := newServeFlags(name, stderr, getenv, isDemo)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		ef.errs = append(ef.errs, fmt.Sprintf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	if errs := append(ef.errs, f.validate()...); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, "tally "+name+":", e)
		}
		return exitUsage
	}
	var lvl slog.Level
	lvl.UnmarshalText([]byte(*f.logLevel))
	// Lines logged while serving a request carry its x-request-id.
	// Lines are gathered and written every few milliseconds
	// (server.LogWriter): one write per request cost a tenth of a cheap
	// query's time.
	logw := server.NewLogWriter(stderr, 0)
	defer logw.Close()
	log := slog.New(server.LogHandler(server.NewTextHandler(logw, &slog.HandlerOptions{Level: lvl})))

	var (
		be   *opened
		data demo.Dataset
		err  error
	)
	if isDemo {
		cfg := demo.Config{Seed: 1, Days: *f.demoDays, PerDay: *f.demoPerDay, EndMicros: time.Now().UnixMicro()}
		data = demo.Describe(cfg)
		be, err = openEmbedded(ctx, *f.dataDir, log, func(ctx context.Context, store *sqlite.Store) error {
			return loadDemo(ctx, store, cfg, stderr)
		})
	} else if *f.databaseURL != "" {
		be, err = openPostgres(ctx, *f.databaseURL, *f.poolSize, log)
	} else {
		be, err = openEmbedded(ctx, *f.dataDir, log, nil)
	}
	if err != nil {
		log.Error("cannot open the store", "err", err)
		return exitFailure
	}
	defer be.close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	maxHeavy := *f.maxHeavy
	if maxHeavy == 0 && f.databaseURL != nil && *f.databaseURL != "" {
		// On PostgreSQL a heavy query waits on the database, two
		// connections at a time, rather than on this replica's cores:
		// leave a few connections to the cheap queries.
		maxHeavy = max(1, *f.poolSize/2-1)
	}
	admission := newAdmission(analytics.AdmissionConfig{HeavyCost: *f.heavyCost, MaxHeavy: maxHeavy, MaxQueued: *f.maxQueued}, reg)
	src := admission.Source(be)
	gcfg := f.gql.config()
	gcfg.Limits = analytics.Limits{MaxBuckets: *f.maxBuckets}
	gcfg.QueryTimeout = *f.queryTimeout
	gcfg.Logger = log
	cat := analytics.NewCatalogue()
	exec, err := graphql.New(gcfg, cat, src)
	if err != nil {
		log.Error("cannot build the GraphQL schema", "err", err)
		return exitFailure
	}
	authn := auth.New(auth.Config{AdminSecret: *f.adminSecret, Keys: be, Logger: log})
	// Deferred after be.close, so it runs first: the writes of a key's
	// last use stop before the store closes.
	defer authn.Close()
	hub, stopLive := startLive(be, f.live, *f.queryTimeout, reg, log)
	defer stopLive(context.Background())
	scfg := server.Config{
		MaxQueryBytes:        *f.maxQueryBytes,
		MaxIngestBytes:       *f.maxIngestBytes,
		Ingest:               ingest.Config{MaxRecords: *f.maxRecords},
		QueryTimeout:         *f.queryTimeout,
		MaxBodyBytesInFlight: *f.bodiesInFlight,
		BodyIdleTimeout:      *f.bodyIdle,
		BodyTimeout:          *f.bodyTimeout,
		Version:              version,
		Logger:               log,
		Registry:             reg,
		Sessions:             be.sessions,
		Keys:                 be,
		Health:               be.Health,
		CORSOrigins:          strings.Split(*f.corsOrigins, ","),
		REST:                 server.RESTConfig{Catalogue: cat, Source: src, Limits: gcfg.Limits},
		Live:                 hub,
	}
	if isDemo {
		scfg.Console = consoleDefaults(data)
	}
	srv := server.New(scfg, exec, authn, be)

	ln, err := net.Listen("tcp", *f.listen)
	if err != nil {
		log.Error("cannot listen", "addr", *f.listen, "err", err)
		return exitFailure
	}
	addr := ln.Addr().String()
	if authn.Open() {
		log.Warn("DEVELOPMENT MODE: no --admin-secret is set, so every request is allowed without credentials. Set --admin-secret (TALLY_ADMIN_SECRET) before exposing this server.", "listen", addr)
		if host, _, _ := net.SplitHostPort(addr); !isLoopback(host) {
			log.Warn("DEVELOPMENT MODE ON A NON-LOOPBACK ADDRESS: anyone who can reach " + addr + " can read and write every account")
		}
	}
	// A plain go build (without go generate) compiles and runs, but
	// without these; say so once rather than let users find out.
	if !web.Built() {
		log.Warn("this binary has no browser pages: /console and /dashboard say how to build them (go generate ./... before go build ./cmd/tally)")
	}
	if pgtext.ZoneDataVersion() == "" {
		log.Warn("this binary has no time zone database: every time_zone but UTC is refused (go generate ./... before go build ./cmd/tally)")
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// The server reads bodies with a deadline per read
		// (--body-idle-timeout) that never passes this one.
		ReadTimeout:  *f.bodyTimeout,
		WriteTimeout: *f.queryTimeout + 30*time.Second,
		IdleTimeout:  2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "tally %s listening on http://%s\n", version, addr)
	if isDemo {
		printDemoHelp(stdout, addr, data)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		log.Error("server stopped", "err", err)
		return exitFailure
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	stopLive(sctx) // WebSockets close with 1001; Shutdown does not wait for them
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("shutdown", "err", err)
		return exitFailure
	}
	return exitOK
}

// newAdmission is the budget of heavy queries, its refusals worded as a
// GraphQL error (data-exception, naming the flag) and its state in the
// metrics.
func newAdmission(cfg analytics.AdmissionConfig, reg *prometheus.Registry) *analytics.Admission {
	cfg.Refused = func(e *analytics.BusyError) error { return graphql.NewError(graphql.CodeDataException, e.Error()) }
	a := analytics.NewAdmission(cfg)
	if reg != nil {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tally_heavy_queries_running", Help: "Heavy queries holding a turn (--max-heavy-queries)."}, func() float64 { return float64(a.Running()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tally_heavy_queries_queued", Help: "Heavy queries waiting for a turn (--max-heavy-queued)."}, func() float64 { return float64(a.Queued()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tally_heavy_queries_refused_total", Help: "Heavy queries refused because the queue was full."}, func() float64 { return float64(a.Refusals()) }),
		)
	}
	return a
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
