// Package kafkax is the one place in slhf that knows how to reach a Kafka
// cluster: broker addresses, TLS, SASL and timeouts live in [Config], and
// every reader, writer and admin call builds its connections from it.
//
// It also holds the two admin steps every stage needs before it starts:
// [WaitReady], which waits until the cluster answers metadata requests,
// and [EnsureTopics], which creates missing topics and waits until their
// partitions are visible.
package kafkax

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// DefaultDialTimeout is the connection timeout used when
// [Config.DialTimeout] is zero. It covers the TCP connect, the TLS
// handshake and the SASL exchange.
const DefaultDialTimeout = 10 * time.Second

// SASL mechanisms accepted by [SASLConfig.Mechanism]. The empty string
// disables SASL.
const (
	MechanismPlain       = "plain"
	MechanismSCRAMSHA256 = "scram-sha-256"
	MechanismSCRAMSHA512 = "scram-sha-512"
)

// redacted replaces secrets in [Config.String] and [SASLConfig.MarshalJSON].
const redacted = "[redacted]"

// ErrNoBrokers is returned by [Config.Dialer], [Config.Transport],
// [EnsureTopics] and [WaitReady] when [Config.Brokers] is empty, that is,
// when no cluster is configured.
var ErrNoBrokers = errors.New("kafkax: no brokers configured")

// Config says how to reach one Kafka cluster.
//
// The zero value means "no cluster configured": [Config.Validate] accepts
// it, and everything that would open a connection returns [ErrNoBrokers].
// A Config is a plain value; copies are independent except for the
// Brokers slice, which callers must not mutate after sharing.
type Config struct {
	// Brokers are bootstrap addresses as host:port. Empty means no
	// cluster is configured.
	Brokers []string `json:"brokers" mapstructure:"brokers"`
	// ClientID is sent to the brokers with every request; it shows up in
	// broker logs and quotas. Empty means kafka-go's default.
	ClientID string `json:"client_id" mapstructure:"client_id"`
	// TLS configures encryption; disabled by default.
	TLS TLSConfig `json:"tls" mapstructure:"tls"`
	// SASL configures authentication; disabled by default.
	SASL SASLConfig `json:"sasl" mapstructure:"sasl"`
	// DialTimeout bounds one connection attempt including TLS and SASL.
	// Zero means [DefaultDialTimeout].
	DialTimeout time.Duration `json:"dial_timeout" mapstructure:"dial_timeout"`
}

// TLSConfig configures TLS towards the brokers. The zero value disables
// TLS. File paths are read each time a dialer or transport is built.
type TLSConfig struct {
	// Enable turns TLS on. The other fields are ignored when it is false.
	Enable bool `json:"enable" mapstructure:"enable"`
	// CAFile is a PEM bundle of roots to trust; empty means the system
	// roots.
	CAFile string `json:"ca_file" mapstructure:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and its key for
	// mutual TLS; both or neither must be set.
	CertFile string `json:"cert_file" mapstructure:"cert_file"`
	KeyFile  string `json:"key_file" mapstructure:"key_file"`
	// InsecureSkipVerify disables verification of the broker certificate.
	// Only for tests: it makes TLS useless against an active attacker.
	InsecureSkipVerify bool `json:"insecure_skip_verify" mapstructure:"insecure_skip_verify"`
	// ServerName overrides the name checked against the broker
	// certificate; empty means the host part of the broker address.
	ServerName string `json:"server_name" mapstructure:"server_name"`
}

// SASLConfig configures SASL authentication. The zero value disables it.
// Password is a secret: [Config.String] and [SASLConfig.MarshalJSON]
// replace it with "[redacted]".
type SASLConfig struct {
	// Mechanism is "" (off), "plain", "scram-sha-256" or "scram-sha-512",
	// case-insensitive.
	Mechanism string `mapstructure:"mechanism"`
	// Username and Password are the credentials; both are required when
	// Mechanism is set.
	Username string `mapstructure:"username"`
	Password string `mapstructure:"password"`
}

// String describes s with the password redacted.
func (s SASLConfig) String() string {
	b, _ := s.MarshalJSON()
	return string(b)
}

// MarshalJSON encodes s with its password redacted, so that a printed or
// logged configuration never leaks it.
func (s SASLConfig) MarshalJSON() ([]byte, error) {
	out := struct {
		Mechanism string `json:"mechanism" mapstructure:"mechanism"`
		Username  string `json:"username" mapstructure:"username"`
		Password  string `json:"password" mapstructure:"password"`
	}{s.Mechanism, s.Username, ""}
	if s.Password != "" {
		out.Password = redacted
	}
	return json.Marshal(out)
}

// String describes c for logs, with the SASL password redacted.
func (c Config) String() string {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Sprintf("kafkax.Config{brokers: %v}", c.Brokers)
	}
	return string(b)
}

// Configured reports whether c names at least one broker.
func (c Config) Configured() bool { return len(c.Brokers) > 0 }

// Validate reports every problem with c, joined, or nil. The zero Config
// is valid and means "no cluster". Validate does not open files or
// connections; [Config.Dialer] does.
func (c Config) Validate() error {
	var errs []error
	for _, b := range c.Brokers {
		if err := validateBroker(b); err != nil {
			errs = append(errs, err)
		}
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("dial_timeout %v is negative", c.DialTimeout))
	}
	errs = append(errs, c.TLS.validate(), c.SASL.validate())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kafka config: %w", err)
	}
	return nil
}

func validateBroker(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("broker %q: %w", addr, err)
	}
	if host == "" || port == "" {
		return fmt.Errorf("broker %q: want host:port", addr)
	}
	return nil
}

func (t TLSConfig) validate() error {
	if !t.Enable {
		return nil
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("tls: cert_file and key_file must be set together")
	}
	return nil
}

func (s SASLConfig) validate() error {
	switch strings.ToLower(s.Mechanism) {
	case "":
		return nil
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
	default:
		return fmt.Errorf("sasl: unknown mechanism %q (want plain, scram-sha-256 or "+
			"scram-sha-512)", s.Mechanism)
	}
	if s.Username == "" || s.Password == "" {
		return errors.New("sasl: username and password are required")
	}
	return nil
}

// Dialer builds a dialer for kafka-go readers and direct connections.
// Each call returns a new dialer; it loads the TLS files anew.
func (c Config) Dialer() (*kafka.Dialer, error) {
	tlsCfg, mech, err := c.security()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{
		ClientID:      c.ClientID,
		Timeout:       c.dialTimeout(),
		DualStack:     true,
		TLS:           tlsCfg,
		SASLMechanism: mech,
	}, nil
}

// Transport builds a NEW transport for a kafka-go Writer or Client.
//
// Never share transports between writers, and never use
// kafka.DefaultTransport: a transport caches cluster metadata for up to
// its MetadataTTL (6 s), so a writer sharing a transport that looked up a
// topic before it was created keeps failing with "unknown topic" for
// seconds. The caller owns the transport and should call
// CloseIdleConnections when done with it.
func (c Config) Transport() (*kafka.Transport, error) {
	tlsCfg, mech, err := c.security()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{
		DialTimeout: c.dialTimeout(),
		ClientID:    c.ClientID,
		TLS:         tlsCfg,
		SASL:        mech,
	}, nil
}

// Addr returns the bootstrap brokers as a kafka-go address.
func (c Config) Addr() net.Addr { return kafka.TCP(c.Brokers...) }

func (c Config) dialTimeout() time.Duration {
	if c.DialTimeout > 0 {
		return c.DialTimeout
	}
	return DefaultDialTimeout
}

// security validates c and builds its TLS configuration and SASL
// mechanism; either may be nil when disabled.
func (c Config) security() (*tls.Config, sasl.Mechanism, error) {
	if !c.Configured() {
		return nil, nil, ErrNoBrokers
	}
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	tlsCfg, err := c.TLS.build()
	if err != nil {
		return nil, nil, fmt.Errorf("kafka tls: %w", err)
	}
	mech, err := c.SASL.build()
	if err != nil {
		return nil, nil, fmt.Errorf("kafka sasl: %w", err)
	}
	return tlsCfg, mech, nil
}

func (t TLSConfig) build() (*tls.Config, error) {
	if !t.Enable {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // documented, tests only
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read ca file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca file %s: no PEM certificate found", t.CAFile)
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func (s SASLConfig) build() (sasl.Mechanism, error) {
	switch strings.ToLower(s.Mechanism) {
	case MechanismPlain:
		return plain.Mechanism{Username: s.Username, Password: s.Password}, nil
	case MechanismSCRAMSHA256:
		return scram.Mechanism(scram.SHA256, s.Username, s.Password)
	case MechanismSCRAMSHA512:
		return scram.Mechanism(scram.SHA512, s.Username, s.Password)
	}
	return nil, nil
}
