package main

import (
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/slhf-dev/slhf/config"
)

// globalOptions are the flags every subcommand shares.
type globalOptions struct {
	configFile string
	sets       []string // --set key=value overrides
	brokers    []string
	ckpDir     string
	listen     string
	logLevel   string
}

func (o *globalOptions) bind(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVarP(&o.configFile, "config", "c", "", "YAML config file")
	f.StringArrayVar(&o.sets, "set", nil, "override one key, e.g. --set learner.gda.kappa=5")
	f.StringSliceVar(&o.brokers, "brokers", nil, "Kafka bootstrap brokers host:port "+
		"(none: embedded broker and bundled data)")
	f.StringVar(&o.ckpDir, "checkpoint-dir", "", "checkpoint directory")
	f.StringVar(&o.listen, "metrics-listen", "", "address of /metrics, /healthz, /readyz")
	f.StringVar(&o.logLevel, "log-level", "", "debug, info, warn or error")
}

// load decodes the configuration: defaults, then the YAML file, then
// SLHF_* environment variables, then flags. Unknown keys are errors that
// name the key.
func (o *globalOptions) load() (config.Config, error) {
	def := config.Default()
	v := viper.New()
	keys := flatten(reflect.ValueOf(def), "", v)
	if o.configFile != "" {
		v.SetConfigFile(o.configFile)
		if err := v.ReadInConfig(); err != nil {
			return def, fmt.Errorf("read config %s: %w", o.configFile, err)
		}
		if err := unknownKeys(v, keys, o.configFile); err != nil {
			return def, err
		}
	}
	v.SetEnvPrefix("SLHF")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if err := unknownEnv(keys); err != nil {
		return def, err
	}
	if err := o.applyFlags(v, keys); err != nil {
		return def, err
	}
	cfg := def
	if err := v.Unmarshal(&cfg, strict); err != nil {
		return def, fmt.Errorf("decode config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

func (o *globalOptions) applyFlags(v *viper.Viper, keys []string) error {
	if len(o.brokers) > 0 {
		v.Set("kafka.brokers", o.brokers)
	}
	if o.ckpDir != "" {
		v.Set("checkpoint.dir", o.ckpDir)
	}
	if o.listen != "" {
		v.Set("metrics.listen", o.listen)
	}
	if o.logLevel != "" {
		v.Set("log.level", o.logLevel)
	}
	for _, kv := range o.sets {
		key, val, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--set %q: want key=value", kv)
		}
		key = strings.ToLower(strings.TrimSpace(key))
		if !slices.Contains(keys, key) {
			return fmt.Errorf("--set: unknown config key %q", key)
		}
		v.Set(key, val)
	}
	return nil
}

// strict makes decoding refuse unknown keys and match snake_case keys to
// Go field names.
func strict(dc *mapstructure.DecoderConfig) {
	dc.ErrorUnused = true
	dc.WeaklyTypedInput = true
	dc.MatchName = func(key, field string) bool {
		return strings.EqualFold(strings.ReplaceAll(key, "_", ""), field)
	}
	dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
		mapstructure.StringToSliceHookFunc(","),
	)
}

// flatten registers every leaf of the default config as a viper default
// under its snake_case key, so that environment variables reach it, and
// returns the keys.
func flatten(val reflect.Value, prefix string, v *viper.Viper) []string {
	var keys []string
	t := val.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key := prefix + snake(f.Name)
		fv := val.Field(i)
		if fv.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{}) {
			keys = append(keys, flatten(fv, key+".", v)...)
			continue
		}
		v.SetDefault(key, fv.Interface())
		keys = append(keys, key)
	}
	return keys
}

// toMap renders a config struct as nested maps under the same snake_case
// keys that decoding accepts, durations as text.
func toMap(val reflect.Value) map[string]any {
	out := map[string]any{}
	t := val.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		fv := val.Field(i)
		switch v := fv.Interface().(type) {
		case time.Duration:
			out[snake(f.Name)] = v.String()
		default:
			if fv.Kind() == reflect.Struct {
				out[snake(f.Name)] = toMap(fv)
			} else {
				out[snake(f.Name)] = v
			}
		}
	}
	return out
}

// snake turns a Go field name into a config key: "BatchEvents" →
// "batch_events", "LRLeader" → "lr_leader", "GDA" → "gda".
func snake(name string) string {
	rs := []rune(name)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 {
			prevLower := unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1])
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if prevLower || (nextLower && unicode.IsUpper(rs[i-1])) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// unknownKeys names, the way the user wrote it, every key of the file that
// is not a config key (decoding would catch it too, but in Go's names).
func unknownKeys(v *viper.Viper, keys []string, file string) error {
	known := make(map[string]bool, len(keys))
	for _, k := range keys {
		known[k] = true
	}
	var bad []string
	for _, k := range v.AllKeys() {
		if !known[k] {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("%s: unknown config key %s", file, strings.Join(bad, ", "))
	}
	return nil
}

// unknownEnv rejects SLHF_* variables that name no config key, so that a
// typo is an error rather than a silently ignored setting.
func unknownEnv(keys []string) error {
	known := map[string]bool{}
	for _, k := range keys {
		known["SLHF_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = true
	}
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		if value != "" && strings.HasPrefix(name, "SLHF_") && !known[name] && !notConfigEnv[name] {
			return fmt.Errorf("environment variable %s names no config key", name)
		}
	}
	return nil
}

// notConfigEnv are SLHF_* variables of the project's own tooling (the
// broker script, the test scripts), not config keys. They are listed, not
// matched by a pattern, so that a typo in a real key is still an error.
var notConfigEnv = map[string]bool{
	"SLHF_KAFKA_CACHE":           true, // scripts/kafka/broker.sh
	"SLHF_KAFKA_CONTROLLER_PORT": true,
	"SLHF_KAFKA_AUTO_CREATE":     true,
	"SLHF_KAFKA_START_TIMEOUT":   true,
	"SLHF_KAFKA_STOP_TIMEOUT":    true,
	"SLHF_KAFKA_HEAP":            true,
	"SLHF_KAFKA_JVM_OPTS":        true,
	"SLHF_KAFKA_DATA_DIR":        true, // integration tests
	"SLHF_KAFKA_LOG":             true,
	"SLHF_KAFKA_VERSION":         true,
	"SLHF_PYTHON":                true,
	"SLHF_PY_CACHE":              true,
	"SLHF_GO_FIXTURES":           true,
	"SLHF_PUBLIC_DATA":           true,
	"SLHF_POISON_SURVEY":         true,
}

// newLogger builds the process logger; cmd owns the handler.
func newLogger(cfg config.Log) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.Format, "json") {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func newConfigCmd(o *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration as YAML (secrets redacted) and its fingerprint",
		Long: "Prints every key with its effective value, in the form a --config file\n" +
			"takes; SLHF_<KEY> environment variables use the same keys upper-cased, with\n" +
			"dots as underscores (kafka.brokers → SLHF_KAFKA_BROKERS).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.load()
			if err != nil {
				return err
			}
			out, err := yaml.Marshal(toMap(reflect.ValueOf(cfg.Redacted())))
			if err != nil {
				return fmt.Errorf("print config: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "# fingerprint: %s\n%s", cfg.Fingerprint(), out)
			return nil
		},
	}
}
