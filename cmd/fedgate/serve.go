package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fedgate/fedgate/broker"
	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols/saml"
)

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "fedgate.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	keepHeapFloor()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := runServer(ctx, *path, stderr, nil); err != nil {
		fmt.Fprintf(stderr, "fedgate: %v\n", err)
		return 1
	}
	return 0
}

// runServer serves until ctx ends, then drains in-flight requests. onListen,
// if set, learns the bound address (tests listen on port 0).
func runServer(ctx context.Context, path string, stderr io.Writer, onListen func(net.Addr)) error {
	boot := slog.New(slog.NewTextHandler(stderr, nil))
	l, err := load(path, true, boot)
	if err != nil {
		return fmt.Errorf("config %s:\n%w", path, err)
	}
	cfg := l.cfg
	logger := newLogger(cfg.Log, stderr)
	st, auditOut, closeState, err := openState(cfg, logger)
	if err != nil {
		return err
	}
	defer closeState()
	metrics := broker.NewMetrics()
	srv, err := broker.NewServer(broker.Deps{
		Logger: logger, Audit: broker.NewAuditor(auditOut), Metrics: metrics, Store: st,
	}, l.snap)
	if err != nil {
		return err
	}
	t := cfg.Server.Timeouts
	hs := &http.Server{
		// A body's read deadline is per request, set by the broker; writes
		// are bounded by progress on the listener's connections
		// (srv.Listener). OPTIONS * reaches the handler too.
		Handler: srv.Handler(), ReadHeaderTimeout: t.ReadHeader, IdleTimeout: t.Idle, MaxHeaderBytes: 64 << 10,
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	tcp, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return err
	}
	ln := srv.Listener(tcp)
	var tlsSrv *tlsServing
	if !cfg.Server.InsecureHTTP {
		if tlsSrv, err = startTLS(ctx, cfg, st, srv.StoreSealer(), logger, metrics, ln); err != nil {
			ln.Close()
			return err
		}
		// Only the certificate host's handshake asks the browser for a
		// client certificate (broker TLSConfig).
		hs.TLSConfig = srv.TLSConfig(tlsSrv.config)
	}
	// SIGHUP is caught before anyone can learn the address and send it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	spMeta := &saml.MetadataRefresher{Client: saml.MetadataClient(nil), Logger: logger, Tick: 30 * time.Second}
	spMeta.Set(l.spMeta)
	go spMeta.Run(ctx)
	go reloadLoop(ctx, path, srv, cfg.Files, hup, logger, spMeta, tlsSrv)
	if onListen != nil {
		onListen(ln.Addr())
	}
	errc := make(chan error, 3) // one per server: none blocks after shutdown
	go func() {
		if cfg.Server.InsecureHTTP {
			errc <- hs.Serve(ln)
		} else {
			errc <- hs.ServeTLS(ln, "", "")
		}
	}()
	servers := []*http.Server{hs}
	if tlsSrv != nil && tlsSrv.http != nil {
		defer tlsSrv.acme.Stop()
		go func() { errc <- tlsSrv.http.Serve(tlsSrv.httpLn) }()
		servers = append(servers, tlsSrv.http)
		logger.Info("ACME HTTP-01 and https redirect serving", "listen", tlsSrv.httpLn.Addr().String())
	}
	if a := cfg.Server.AdminListen; a != "" {
		as := &http.Server{Handler: srv.AdminHandler(), ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read,
			WriteTimeout: t.Write, IdleTimeout: t.Idle, ErrorLog: hs.ErrorLog}
		aln, err := net.Listen("tcp", a)
		if err != nil {
			for _, s := range servers {
				_ = s.Close()
			}
			return fmt.Errorf("admin listener: %w", err)
		}
		go func() { errc <- as.Serve(aln) }()
		servers = append(servers, as)
		logger.Info("admin endpoints serving", "listen", aln.Addr().String())
	}
	v, detail := buildVersion(readBuildInfo())
	logger.Info("fedgate serving", "listen", ln.Addr().String(), "public_url", cfg.Server.PublicURL, "version", v, "build", detail)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining in-flight requests", "timeout", t.Shutdown)
	sctx, cancel := context.WithTimeout(context.Background(), t.Shutdown)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
	}
	logger.Info("stopped")
	return nil
}

// reloadLoop rebuilds the config on SIGHUP or a file change (a refreshed SP
// metadata copy included). A config that fails is refused and the last good
// one keeps serving.
func reloadLoop(ctx context.Context, path string, srv *broker.Server, files []string, hup <-chan os.Signal, logger *slog.Logger, spMeta *saml.MetadataRefresher, tlsSrv *tlsServing) {
	w, err := config.NewWatcher(files)
	if err != nil {
		logger.Warn("config file watching disabled; SIGHUP still reloads", "err", err)
	} else {
		go w.Run(ctx, 300*time.Millisecond)
	}
	var changed <-chan struct{}
	if w != nil {
		changed = w.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		case <-changed:
		}
		l, err := load(path, true, logger)
		if err != nil {
			srv.Metrics.Reloaded(false)
			logger.Error("config reload refused; still serving the last good config", "config", path, "problems", err.Error())
			continue
		}
		if err := srv.Swap(l.snap); err != nil {
			srv.Metrics.Reloaded(false)
			logger.Error("config reload refused; still serving the last good config", "config", path, "problems", err.Error())
			continue
		}
		srv.Metrics.Reloaded(true)
		spMeta.Set(l.spMeta)
		if err := tlsSrv.manageHosts(ctx, l.cfg); err != nil {
			logger.Error("acme: new host names not managed", "err", err)
		}
		if w != nil {
			if err := w.Track(l.cfg.Files); err != nil {
				logger.Warn("config watch", "err", err)
			}
		}
		logger.Info("config reloaded", "config", path, "files", len(l.cfg.Files))
	}
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// openState opens the store and the audit log; closeAll closes both.
func openState(cfg *config.Config, logger *slog.Logger) (st store.Store, audit io.Writer, closeAll func(), err error) {
	if st, err = openStore(cfg.Store, logger); err != nil {
		return nil, nil, nil, err
	}
	audit, closeAudit, err := openAudit(cfg.Audit.File)
	if err != nil {
		_ = st.Close()
		return nil, nil, nil, err
	}
	return st, audit, func() { closeAudit(); _ = st.Close() }, nil
}

func openAudit(file string) (io.Writer, func(), error) {
	if file == "stdout" || file == "-" {
		return os.Stdout, func() {}, nil
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("audit log: %w", err)
	}
	return f, func() { _ = f.Close() }, nil
}
